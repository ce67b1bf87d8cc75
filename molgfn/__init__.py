"""molgfn: design molecules and biological sequences with Generative Flow Networks."""

__version__ = "0.1.0"
