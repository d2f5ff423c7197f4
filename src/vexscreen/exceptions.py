"""vexscreen's exceptions: one type for bad user input, so the CLI can print it cleanly."""


class InputError(ValueError):
    """Bad input: the message names the file (or argument) and the problem.

    The CLI prints it as one line and exits with status 2, without a traceback.
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
