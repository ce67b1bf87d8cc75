"""molgfn's command line, one module per command or group of commands (cli.py registers them):
``training`` (train, design) over ``training_run``, ``sampling`` (sample, evaluate), ``scoring``
(score, scores), ``data`` (tasks, data list|fetch|import), ``bench``, ``reports`` (report, info).
What they share: ``options`` (option declarations, their checks, --help panels), ``common`` (tasks,
runs and tables), ``base`` (the command class) and ``errors`` (the error handler, ``friendly``)."""
