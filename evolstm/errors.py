"""The exceptions evolstm raises on purpose.

Anything a user can get wrong (a config key, a file, a command-line value) raises an
`EvolstmError` whose message is one line naming the place and the problem; the command line
prints it and exits with status 2.
"""


class EvolstmError(Exception):
    """A usage, config or input error: one line, naming where and what."""


class ConfigError(EvolstmError):
    """A config file or config value is wrong (the message names the key's path)."""


class CellFileError(EvolstmError):
    """A cell file cannot be read (the message names the file and the problem)."""


class RunDirError(EvolstmError):
    """A run directory is missing, incomplete or inconsistent."""
