"""The one error for bad input from the user or a file."""


class InputError(Exception):
    """Bad input (an option, a file, a revision); the message is one line naming the
    problem and the fix. The command line prints it and exits with status 2."""
