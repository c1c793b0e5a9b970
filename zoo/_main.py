"""How every zoo CLI treats expected errors: one ``error: ...`` line on stderr, exit 2, no traceback."""

import sys

# ValueError: bad arguments or data; OSError: missing, existing or unwritable files
# (kgan.data.DataNotFoundError is a FileNotFoundError).
EXPECTED_ERRORS = (ValueError, OSError)


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
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
