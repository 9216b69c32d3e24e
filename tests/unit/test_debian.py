"""Debian source handling (llmcc.lab.debian) on sample files: no network, no root, no apt.

apt-get and dpkg-source are replaced by a fake runner; apt-get update by a stub."""

import os
import shutil

import pytest

from llmcc.lab import debian

DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

SRC = "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"


@pytest.mark.parametrize("text, has", [
    ("", False),
    (DEBIAN_SOURCES, False),
    (SRC, True),
    (SRC + "Enabled: no\n", False),
    (SRC + "Enabled: No\n", False),
    (SRC + "Enabled: false\n", False),
    (SRC + "Enabled: yes\n", True),
    ("Types: deb deb-src\nURIs: http://x\nSuites: s\nComponents: main\n", True),
    ("types: deb-src\nuris: http://x\nsuites: s\ncomponents: main\nenabled: no\n", False),
    ("# Types: deb-src\n" + DEBIAN_SOURCES, False),          # a comment is no entry
    (DEBIAN_SOURCES + "\n" + SRC + "Enabled: no\n", False),  # the disabled stanza only
    (SRC + "Enabled: no\n\n" + SRC, True),                   # a second, enabled one
    ("Types: deb-srcx\nURIs: http://x\n", False),
])
def test_deb822_deb_src_detection_honours_enabled_no(text, has):
    assert debian.deb822_has_deb_src(text) is has


@pytest.mark.parametrize("text, has", [
    ("deb http://deb.debian.org/debian bookworm main\n", False),
    ("deb-src http://deb.debian.org/debian bookworm main\n", True),
    ("  deb-src [arch=amd64] http://x bookworm main\n", True),
    ("# deb-src http://deb.debian.org/debian bookworm main\n", False),
    ("#deb-src http://x bookworm main\n", False),
    ("", False),
])
def test_one_line_deb_src_detection(text, has):
    assert debian.one_line_has_deb_src(text) is has


def _apt(tmp_path, files: dict[str, str]) -> tuple[str, str, str]:
    """An apt configuration under tmp_path: (sources.list.d, sources.list, lists dir)."""
    d, lists = tmp_path / "sources.list.d", tmp_path / "lists"
    d.mkdir()
    lists.mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return str(d), str(tmp_path / "sources.list"), str(lists)


@pytest.mark.parametrize("files, has", [
    ({}, False),
    ({"sources.list.d/debian.sources": DEBIAN_SOURCES}, False),
    ({"sources.list.d/debian.sources": DEBIAN_SOURCES, "sources.list.d/src.sources": SRC}, True),
    ({"sources.list.d/src.sources": SRC + "Enabled: no\n"}, False),
    ({"sources.list.d/src.sources.disabled": SRC}, False),  # not a .sources file
    ({"sources.list.d/x.list": "deb-src http://x bookworm main\n"}, True),
    ({"sources.list": "deb http://x bookworm main\ndeb-src http://x bookworm main\n"}, True),
    ({"sources.list": "deb http://x bookworm main\n# deb-src http://x bookworm main\n"}, False),
])
def test_has_deb_src_reads_every_source_file(tmp_path, files, has):
    sources_dir, sources_list, _ = _apt(tmp_path, files)
    assert debian.has_deb_src(sources_dir, sources_list) is has


def test_deb_src_stanzas_mirror_the_deb_ones_with_their_fields():
    text = DEBIAN_SOURCES + "\n" + SRC + "\nTypes: deb\nURIs: http://off\nSuites: s\nEnabled: no\n"
    out = debian.deb_src_stanzas(text)
    assert len(out) == 3
    assert out[0] == ("Types: deb-src\nURIs: http://deb.debian.org/debian\n"
                      "Suites: bookworm bookworm-updates\nComponents: main\n"
                      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    assert "URIs: http://deb.debian.org/debian-security\n" in out[1]
    assert out[2] == "Types: deb-src\nURIs: http://off\nSuites: s\nEnabled: no\n"  # stays off
    assert all(debian.deb822_has_deb_src(s) for s in out[:2])
    assert debian.deb_src_stanzas(SRC) == []


@pytest.fixture
def updates(monkeypatch):
    """Record apt-get update calls instead of running them."""
    calls = []
    monkeypatch.setattr(debian, "apt_update", lambda: calls.append("update"))
    return calls


def test_ensure_deb_src_mirrors_and_updates_once(tmp_path, updates):
    sources_dir, sources_list, lists = _apt(tmp_path, {"sources.list.d/debian.sources":
                                                       DEBIAN_SOURCES})
    log = []
    debian.ensure_deb_src(log.append, sources_dir, sources_list, lists)
    written = os.path.join(sources_dir, "llmcc-src.sources")
    assert log == [f"added {written}; running apt-get update"] and updates == ["update"]
    with open(written) as f:
        text = f.read()
    assert text == "\n".join(debian.deb_src_stanzas(DEBIAN_SOURCES))
    assert text.count("Types: deb-src\n") == 2 and "\n\nTypes: deb-src" in text
    assert debian.has_deb_src(sources_dir, sources_list)
    # the index is there now: a second call does nothing
    (tmp_path / "lists" / "deb.debian.org_debian_dists_bookworm_main_source_Sources").write_text("")
    debian.ensure_deb_src(log.append, sources_dir, sources_list, lists)
    assert len(log) == 1 and updates == ["update"]


def test_ensure_deb_src_updates_when_entries_exist_without_an_index(tmp_path, updates):
    sources_dir, sources_list, lists = _apt(tmp_path, {"sources.list.d/src.sources": SRC})
    log = []
    debian.ensure_deb_src(log.append, sources_dir, sources_list, lists)
    assert updates == ["update"] and "no source index yet" in log[0]
    assert os.listdir(sources_dir) == ["src.sources"]


def test_a_disabled_deb_src_entry_is_mirrored_anew(tmp_path, updates):
    sources_dir, sources_list, lists = _apt(tmp_path, {
        "sources.list.d/debian.sources": DEBIAN_SOURCES,
        "sources.list.d/old.sources": SRC + "Enabled: no\n"})
    debian.ensure_deb_src(lambda _: None, sources_dir, sources_list, lists)
    assert "llmcc-src.sources" in os.listdir(sources_dir) and updates == ["update"]


def test_ensure_deb_src_errors(tmp_path, updates):
    sources_dir, sources_list, lists = _apt(tmp_path, {"sources.list": "deb http://x s main\n"})
    with pytest.raises(debian.DebianError, match="no deb-src entries and no deb822 'Types: deb'"):
        debian.ensure_deb_src(lambda _: None, sources_dir, sources_list, lists)
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    os.mkdir(os.path.join(sources_dir, "llmcc-src.sources"))  # cannot be written as a file
    with pytest.raises(debian.DebianError, match=r"cannot add deb-src entries .*; run as root"):
        debian.ensure_deb_src(lambda _: None, sources_dir, sources_list, lists)
    assert updates == []


DSC = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
Source: zlib
Binary: zlib1g, zlib1g-dev
Version: 1:1.2.13.dfsg-1
Checksums-Sha256:
 d14779f1 1234 zlib_1.2.13.dfsg.orig.tar.gz
 aaaa 567 zlib_1.2.13.dfsg-1.debian.tar.xz
Files:
 0123 1234 zlib_1.2.13.dfsg.orig.tar.gz
 4567 567 zlib_1.2.13.dfsg-1.debian.tar.xz

-----BEGIN PGP SIGNATURE-----

iQIzBAEBCgAdFiEE
=abcd
-----END PGP SIGNATURE-----
"""

FILES = ("zlib_1.2.13.dfsg.orig.tar.gz", "zlib_1.2.13.dfsg-1.debian.tar.xz")


def test_read_dsc_of_a_signed_file(tmp_path):
    (tmp_path / "zlib_1.2.13.dfsg-1.dsc").write_text(DSC)
    pkg = debian.read_dsc(str(tmp_path / "zlib_1.2.13.dfsg-1.dsc"))
    assert (pkg.name, pkg.version, pkg.files) == ("zlib", "1:1.2.13.dfsg-1", FILES)
    (tmp_path / "bare.dsc").write_text("Source: x\n")
    assert debian.read_dsc(str(tmp_path / "bare.dsc")) == debian.SourcePackage(
        str(tmp_path / "bare.dsc"), "x", "", ())


class FakeApt:
    """A runner standing in for apt-get and dpkg-source: records the calls; ``fetch``
    says which download targets succeed (writing the .dsc and its files), ``ok``
    whether dpkg-source and apt-get install do."""

    def __init__(self, fetch=(), ok=True):
        self.calls, self.fetch, self.ok = [], set(fetch), ok

    def __call__(self, argv, cwd, env, timeout):
        self.calls.append((argv, cwd, env))
        if argv[:2] == ["apt-get", "source"]:
            if argv[-1] not in self.fetch:
                with open(os.path.join(cwd, "partial.tar.gz"), "w") as f:
                    f.write("cut")
                return 100
            with open(os.path.join(cwd, "zlib_1.2.13.dfsg-1.dsc"), "w") as f:
                f.write(DSC)
            for name in FILES:
                with open(os.path.join(cwd, name), "w") as f:
                    f.write("x")
            return 0
        if argv[0] == "dpkg-source":
            os.makedirs(os.path.join(argv[-1], "debian"))
            return 0 if self.ok else 2
        return 0 if self.ok else 100


def _targets(fake):
    return [argv[-1] for argv, _, _ in fake.calls if argv[:2] == ["apt-get", "source"]]


def test_download_falls_back_to_the_release_suite(tmp_path, updates):
    (tmp_path / "keep").mkdir()
    fake = FakeApt(fetch={"zlib/bookworm"})
    dsc = debian.download_source("zlib", str(tmp_path), fake)
    assert dsc == str(tmp_path / "zlib_1.2.13.dfsg-1.dsc")
    assert _targets(fake) == ["zlib", "zlib/bookworm"] and updates == []
    assert not (tmp_path / "partial.tar.gz").exists() and (tmp_path / "keep").is_dir()


def test_download_updates_the_lists_then_tries_again(tmp_path, updates):
    fake = FakeApt()
    with pytest.raises(debian.CommandFailed, match="^apt-get source zlib failed$"):
        debian.download_source("zlib", str(tmp_path), fake)
    assert _targets(fake) == ["zlib", "zlib/bookworm"] * 2 and updates == ["update"]
    fake = FakeApt(fetch={"zlib=1:1.2.13.dfsg-1"})
    debian.download_source("zlib", str(tmp_path), fake, version="1:1.2.13.dfsg-1")
    assert _targets(fake) == ["zlib=1:1.2.13.dfsg-1"]


def test_fetch_downloads_once(tmp_path, updates, monkeypatch):
    monkeypatch.setattr(debian, "ensure_deb_src", lambda log: log("checked"))
    log, dl = [], str(tmp_path / "dl")
    fake = FakeApt(fetch={"zlib"})
    pkg = debian.fetch_source("zlib", dl, fake, log.append)
    assert pkg.version == "1:1.2.13.dfsg-1" and log == ["checked"] and len(fake.calls) == 1
    again = FakeApt()
    assert debian.fetch_source("zlib", dl, again, log.append) == pkg
    assert again.calls == [] and log == ["checked"]
    shutil.copy(pkg.dsc, os.path.join(dl, "other.dsc"))
    with pytest.raises(debian.DebianError, match="expected one .dsc"):
        debian.fetch_source("zlib", dl, again, log.append)


def test_unpack_checks_the_files_the_dsc_lists(tmp_path):
    fake = FakeApt(fetch={"zlib"})
    pkg = debian.read_dsc(debian.download_source("zlib", str(tmp_path), fake))
    src = str(tmp_path / "src")
    debian.unpack_source(pkg, src, fake)
    argv, cwd, _ = fake.calls[-1]
    assert argv == ["dpkg-source", "--no-check", "-x", pkg.dsc, src + ".tmp"]
    assert cwd == str(tmp_path) and os.path.isdir(os.path.join(src, "debian"))
    assert not os.path.exists(src + ".tmp")
    with pytest.raises(debian.CommandFailed, match="dpkg-source -x .* failed"):
        debian.unpack_source(pkg, str(tmp_path / "src2"), FakeApt(ok=False))
    os.unlink(tmp_path / FILES[1])
    with pytest.raises(debian.DebianError, match=f"missing {FILES[1]}"):
        debian.unpack_source(pkg, str(tmp_path / "src3"), fake)


def test_install_retries_once_after_an_update(tmp_path, updates):
    fake = FakeApt(ok=False)  # every install fails
    with pytest.raises(debian.CommandFailed, match="^apt-get install zlib1g-dev make failed$"):
        debian.install_packages(["zlib1g-dev", "make"], fake)
    assert len(fake.calls) == 2 and updates == ["update"]
    argv, _, env = fake.calls[0]
    assert argv[:5] == ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
    assert argv[-2:] == ["zlib1g-dev", "make"] and env["DEBIAN_FRONTEND"] == "noninteractive"
    ok = FakeApt()
    debian.install_packages(["make"], ok)
    assert len(ok.calls) == 1 and updates == ["update"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_missing_packages_asks_dpkg():
    assert debian.missing_packages(["dpkg", "llmcc-no-such-package"]) == ["llmcc-no-such-package"]
