"""The package structure (bench/structure.py): no cycles, no private or hidden imports, no family branches."""

import os

import pytest

from conftest import REPO, bench_module


structure = bench_module("structure")


@pytest.fixture(scope="module")
def report():
    return structure.Report(REPO)


def test_kgan_has_no_cycles_private_or_local_imports(report):
    assert report.cycles() == []
    assert report.private_imports == []
    assert report.local_imports == []


def test_no_family_is_named_outside_models(report):
    assert report.family_branches == []
    assert report.serving_families == []


def test_imports_go_down_the_layers(report):
    assert report.upward_imports() == []
    assert structure.layer("kgan.gan") == "core" and structure.layer("kgan.serving.reader") == "serving"


def write_tree(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


def test_the_check_finds_each_kind_of_violation(tmp_path):
    """A tree with one of each problem: the counts the real tree must keep at 0 can be non-zero."""
    write_tree(str(tmp_path), {
        "kgan/__init__.py": "",
        "kgan/gan.py": "from kgan.serving import sig\n",  # core -> serving: up the layers, and a cycle
        "kgan/models/__init__.py": "",
        "kgan/models/cgan.py": "class CGAN:\n    pass\n",
        "kgan/serving/__init__.py": "",
        "kgan/serving/sig.py": (
            "from kgan.gan import _helper\n"
            "from kgan.models.cgan import CGAN\n\n"
            "def f(gan):\n"
            "    from kgan import gan as core\n"
            "    if isinstance(gan, CGAN) or gan.family == 'infogan':\n"
            "        return core\n"),
    })
    report = structure.Report(str(tmp_path))
    assert report.cycles() and report.cycles()[0][0] in ("kgan.gan", "kgan.serving.sig")
    assert report.private_imports == ["kgan.serving.sig: from kgan.gan import _helper"]
    assert report.local_imports == ["kgan.serving.sig.f: line 5"]
    assert len(report.family_branches) == 2
    assert report.serving_families == ["kgan.serving.sig: kgan.models.cgan.CGAN"]
    assert report.upward_imports() == ["kgan.gan (core) imports kgan.serving.sig (serving)"]
