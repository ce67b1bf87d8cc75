"""Errors a user can act on. Each message says what was wrong and what to do."""


class MolgfnError(Exception):
    """Base class: the CLI prints these as one clear message, without a traceback."""


class AssetError(MolgfnError):
    pass


class AssetMissingError(AssetError):
    pass


class ChecksumError(AssetError):
    pass


class OracleError(MolgfnError):
    """An oracle raised, or returned values that cannot be rewards."""


class TaskError(MolgfnError):
    pass


class InputError(MolgfnError):
    pass
