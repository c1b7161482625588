"""The installed plugin: found by `kizuna lammps-plugin` / importlib.resources, loaded by
`plugin load` and by LAMMPS_PLUGIN_PATH, exporting only its entry points, and refusing to load
into a LAMMPS version other than the one it was compiled for."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from kizuna.cli import main
from kizuna.lammps import environment, lammps_version, plugin_path, run
from test_lammps_support import lammps_models, require_lammps, setup_script  # noqa: F401


@pytest.fixture(scope="module", autouse=True)
def _lammps():
    require_lammps()


def test_cli_prints_the_plugin_path(capsys):
    assert main(["lammps-plugin"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(plugin_path())
    assert path.endswith("kizuna/lammps_plugin/kizunaplugin.so")
    assert main(["lammps-plugin", "--dir"]) == 0
    assert capsys.readouterr().out.strip() == str(plugin_path().parent)
    assert main(["lammps-plugin", "--check"]) == 0
    assert f"LAMMPS {lammps_version()}: pair_style kizuna loads" in capsys.readouterr().out


def test_plugin_load_registers_pair_style(tmp_path):
    result = run("plugin load ${kizuna_plugin}\nplugin list\n", tmp_path).check()
    assert "Loading plugin: kizuna" in result.output
    assert "pair style plugin kizuna" in result.output
    # same version: LAMMPS prints no "compiled for LAMMPS version ..." notice
    assert "compiled for LAMMPS version" not in result.output


def test_lammps_plugin_path_autoloads(lammps_models, tmp_path):  # noqa: F811
    script = setup_script("cfg4_ice384", lammps_models).replace("plugin load ${kizuna_plugin}\n",
                                                                "") + "run 0\n"
    assert "plugin load" not in script
    result = run(script, tmp_path, autoload=True).check()
    assert "Loaded 1 plugins from" in result.output


def test_only_entry_points_are_exported():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not installed")
    out = subprocess.run([nm, "-D", "--defined-only", str(plugin_path())], capture_output=True,
                         text=True, check=True).stdout
    names = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    assert names == ["kizuna_lammps_built_version", "kizuna_lammps_register",
                     "lammpsplugin_init"]


def _shim(tmp_path, built_version):
    """A plugin whose init calls kizuna's registration with another 'compiled for' version,
    i.e. what a kizuna built for that LAMMPS would do when loaded here."""
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler to build the version-check shim")
    source = tmp_path / "shim.cpp"
    source.write_text(textwrap.dedent(f"""
        extern "C" void kizuna_lammps_register(void*, void*, void*, int);
        extern "C" void lammpsplugin_init(void* lmp, void* handle, void* regfunc) {{
            kizuna_lammps_register(lmp, handle, regfunc, {built_version});
        }}
    """))
    shim = tmp_path / f"shim{built_version}plugin.so"
    folder = plugin_path().parent
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(shim), str(source),
                    str(plugin_path()), f"-Wl,-rpath,{folder}"], check=True)
    return shim


def test_shim_with_the_right_version_loads(tmp_path):
    shim = _shim(tmp_path, lammps_version())
    result = run("plugin load ${shim}\nplugin list\n", tmp_path, variables={"shim": shim}).check()
    assert "pair style plugin kizuna" in result.output


@pytest.mark.parametrize("built, built_text", [(20240207, "7 Feb 2024"),
                                               (20251210, "10 Dec 2025")])
def test_version_mismatch_is_refused(tmp_path, built, built_text):
    shim = _shim(tmp_path, built)
    result = run("plugin load ${shim}\nprint AFTER-LOAD\n", tmp_path, variables={"shim": shim})
    assert result.returncode != 0
    assert "AFTER-LOAD" not in result.stdout
    text = " ".join(result.output.split())
    running = lammps_version()
    assert f"compiled for LAMMPS {built_text} ({built})" in text
    assert "loaded into LAMMPS" in text and f"({running})" in text
    assert "the plugin is not loaded" in text
    year, month, day = built // 10000, built // 100 % 100, built % 100
    assert f"lammps[mpi]=={year}.{month}.{day}.*" in text
    # the other way out: build the plugin for the running LAMMPS (docs/lammps.md)
    assert "-DKIZUNA_LAMMPS_DIR=<this LAMMPS's install prefix or source tree>" in text
    assert "'Your own LAMMPS'" in text


def test_version_mismatch_raises_in_python_module(tmp_path):
    shim = _shim(tmp_path, 20240207)
    program = textwrap.dedent(f"""
        import lammps
        lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
        try:
            lmp.command("plugin load {shim}")
        except Exception as exc:
            print("REFUSED", exc)
        print("STYLES", lmp.has_style("pair", "kizuna"))
        lmp.command("plugin load {plugin_path()}")  # the real one still loads afterwards
        print("STYLES", lmp.has_style("pair", "kizuna"))
        lmp.close()
    """)
    proc = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=environment(1),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "REFUSED kizuna's LAMMPS plugin was compiled for LAMMPS 7 Feb 2024" in proc.stdout
    assert [x for x in proc.stdout.split() if x in ("True", "False")] == ["False", "True"]
