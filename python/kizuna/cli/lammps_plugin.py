"""kizuna lammps-plugin: print the path of the installed LAMMPS plugin (pair_style kizuna)."""
COMMAND = "lammps-plugin"
HELP = "print the path of the LAMMPS plugin kizunaplugin.so (for 'plugin load')"


def add_arguments(parser):
    parser.add_argument("--dir", action="store_true",
                        help="print its folder instead (for LAMMPS_PLUGIN_PATH)")
    parser.add_argument("--check", action="store_true",
                        help="also load it into the installed LAMMPS and report the result")


def run(args):
    import tempfile

    from ..lammps import lammps_version, plugin_path, run as run_lammps

    path = plugin_path()
    print(path.parent if args.dir else path)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_lammps("plugin load ${kizuna_plugin}\nplugin list\n", tmp, timeout=120)
        loaded = "pair style plugin kizuna" in result.output
        print(f"LAMMPS {lammps_version()}: " + ("pair_style kizuna loads" if loaded else
              "the plugin did NOT load:\n" + result.output[-2000:]))
        return 0 if loaded else 1
    return 0
