"""How every zoo CLI treats expected errors: one ``error: ...`` line on stderr, exit 2, no traceback."""

import os
import sys

from absl import flags

from zoo._choices import PRESET_URI_PREFIXES

# ValueError: bad arguments or data; OSError: missing, existing or unwritable files
# (kgan.data.DataNotFoundError is a FileNotFoundError).
EXPECTED_ERRORS = (ValueError, OSError)


def failed_check_message(error):
    """The one-line message of an expected TensorFlow error, or None.

    A failed kgan in-graph check (see `kgan.checks.failed_check_message`), a full disk or exhausted memory
    (ResourceExhaustedError) or a corrupt data file (DataLossError) are the user's to fix; other TensorFlow
    errors are bugs and keep their traceback.
    """
    name, module = type(error).__name__, type(error).__module__
    if not module.startswith("tensorflow"):
        return None  # TensorFlow (and kgan) may not even be imported yet
    if name == "ResourceExhaustedError":
        return (f"out of disk space or memory ({' '.join(str(error).split())[:200]}); free some and rerun: nothing "
                "half-written was kept.")
    if name == "DataLossError":
        return (f"a data file is corrupt ({' '.join(str(error).split())[:200]}); re-import or re-download it "
                "(python -m zoo.import_data ... --overwrite) and rerun.")
    if name != "InvalidArgumentError":
        return None
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


# Flags that name files or folders: a leading ~ is the home folder, as in a shell.
PATH_FLAGS = ("model", "output_dir", "output", "data_dir", "export_dir", "source_dir")


def expand_path_flags():
    """Expands ``~`` in every path flag's value (quoted or ``--flag=~/x`` values reach us unexpanded)."""
    for name in PATH_FLAGS:
        if name in flags.FLAGS and isinstance(flags.FLAGS[name].value, str):
            flags.FLAGS[name].value = os.path.expanduser(flags.FLAGS[name].value)


def model_source_exists(source):
    """Whether a --model value is an existing path or a preset URI (resolved later by kgan.load)."""
    return os.path.exists(source) or str(source).startswith(PRESET_URI_PREFIXES)


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
    expand_path_flags()
    try:
        return run([os.path.expanduser(arg) for arg in argv[1:]]) if positional else run()
    except Exception as error:  # pylint: disable=broad-except
        message = str(error) if isinstance(error, EXPECTED_ERRORS) else failed_check_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
