"""The error type of the data package: always names the file, line, language or setting."""


class DataError(ValueError):
    """Bad or missing corpus data, with a message that names what is wrong and where."""
