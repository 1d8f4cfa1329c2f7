"""The entry points: argv -> settings -> facts -> decision -> plan -> run -> exit code
(main.py), the console script and docker CLI plugin (launch.py, plugin.py), the shell's
gathering of facts through the world's seams (facts.py, effects.py), what is printed
(report.py), doctor, completion and the bake file."""
