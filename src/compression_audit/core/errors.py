"""The one exception type stages turn into a clean message and a non-zero exit."""


class UserError(Exception):
    """A problem the user can fix (bad params, bad data, wrong file).

    The message names the problem and the fix; stage scripts print it without a
    traceback, because a traceback suggests a bug where there is none.
    """
