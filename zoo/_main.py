"""How every zoo CLI treats expected errors: one ``error: ...`` line on stderr, exit 2, no traceback."""

import os
import sys

# ValueError: bad arguments or data; OSError: missing, existing or unwritable files
# (kgan.data.DataNotFoundError is a FileNotFoundError).
EXPECTED_ERRORS = (ValueError, OSError)


def failed_check_message(error):
    """The message of a failed kgan in-graph check, or None (see `kgan.gan.failed_check_message`)."""
    if type(error).__name__ != "InvalidArgumentError" or not type(error).__module__.startswith("tensorflow"):
        return None  # TensorFlow (and kgan) may not even be imported yet
    from kgan.checks import failed_check_message as message_of

    return message_of(error)


def write_json(path, record):
    """Writes ``record`` to ``path`` as JSON, atomically (a temporary file renamed into place)."""
    from kgan.checks import write_json_atomic  # kgan (and TensorFlow) only once there is work to write

    write_json_atomic(path, record)


def check_output_file(flag, path, overwrite):
    """Refuses an output file that cannot be written, before any work is done (nothing is lost at the end).

    Args:
      flag: the flag's name, for the message (e.g. "--output").
      path: the file the CLI will write.
      overwrite: whether an existing file may be replaced.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(f"{flag} {path} is a directory; pass a file name such as "
                                f"{os.path.join(path, 'results.json')}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite or another {flag}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The folder of {flag} {path} does not exist ({folder}); create it or pass "
                                f"another {flag}.")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"Cannot write {flag} {path}: the folder {folder} is not writable.")


def run_main(run, argv, positional=False):
    """Runs ``run()`` (or ``run(argv[1:])`` with ``positional``) for an absl main.

    Args:
      run: the CLI's work.
      argv: absl's argv.
      positional: whether the CLI takes positional arguments.

    Returns:
      What ``run`` returns.
    """
    if len(argv) > 1 and not positional:
        raise SystemExit(f"Unexpected arguments: {' '.join(argv[1:])} (flags are --name=value).")
    try:
        return run(argv[1:]) if positional else run()
    except Exception as error:  # pylint: disable=broad-except
        message = str(error) if isinstance(error, EXPECTED_ERRORS) else failed_check_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
