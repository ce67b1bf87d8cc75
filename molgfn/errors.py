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


class RunFileError(InputError):
    """A file of a run directory is damaged, missing or not ours; the message names it."""


class RunLockedError(InputError):
    """Another process is writing the run directory."""


class TrainingDiverged(MolgfnError):
    """The loss or the weights became NaN/inf; the last good checkpoint is kept."""


class Interrupted(MolgfnError):
    """SIGINT / SIGTERM during training: a checkpoint was written and the run can resume."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


class RewardFloorWarning(UserWarning):
    """Every raw score of a batch is at or below the reward floor: all objects get one reward."""
