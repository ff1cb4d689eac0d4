"""The command-line driver: ``python -m dycore.run [CONFIG.toml] [flags]``,
the same under ``mpirun -n N``; ``python -m dycore`` is an alias.

Settings come from, later ones winning: a restart file's config (with
``--restart``), the TOML file, the flags, then ``--set key=value``. The run
goes on the Python users' run loop (:class:`dycore.loop.Loop`, whose
callbacks write the output and the checkpoints), which advances with
:meth:`Simulation.advance` from one event time to the next;
events are the output times (multiples of ``output_interval``), the
checkpoint times (multiples of ``--checkpoint-interval``) and ``t_end``, all
measured from t = 0, so a restarted run meets the same event times and
repeats the uninterrupted run bit for bit. The last step before each event is
shortened to land on it; output times count whether or not a file is
written, so the time steps follow from the config alone, except that
checkpoint times which are not output times add step boundaries (choose a
multiple of ``output_interval`` to leave the steps unchanged). A restart file
remembers the checkpoint interval, so ``--restart FILE`` alone continues
exactly as the run that wrote it would have.

Reliability (see docs/user-guide.md, "When things go wrong"):

- Bad input is found before the first step: every rank exits with status 2
  and rank 0 prints one line ``dycore: error: ...`` (no traceback). This
  covers the config (keys, types, names, sizes), a fixed ``dt`` above the
  CFL limit of the initial state (``--allow-unstable`` to run anyway), an
  output or restart file that exists (``--overwrite``) or cannot be written,
  and a restart file that is missing, truncated, not ours or incompatible.
  Checks that can differ between ranks are agreed over all ranks first.
- Blow-up: the state is checked on all ranks after every step (one scalar
  reduction). On a non-finite value or a negative depth every rank stops,
  the last good state is written to the restart file, the output is closed,
  and the message names the step, the time, the worst cell and the likely
  cause; exit status 1.
- SIGTERM, SIGINT, SIGUSR1, SIGUSR2: the ranks finish their step, agree to
  stop at the same step (checked about once a second of stepping), write
  the restart file, close the output and exit with 128 + the signal number
  (a second signal stops at once). Under Open MPI's mpirun, send SIGUSR1 or
  SIGUSR2 to mpirun (it forwards them; SIGTERM/SIGINT to mpirun make it
  kill the ranks after 1 s), or signal the ranks themselves.
- An unexpected exception on some rank prints its traceback and aborts all
  ranks (MPI_Abort); an error exit that not every rank reaches within 10 s
  aborts too, so no rank is left waiting.
- The output is written as ``OUTPUT.part`` (created exclusively, locked
  for the run's lifetime: a second writer is bad input) and renamed when it
  is complete, replacing an old ``OUTPUT`` only then; restart files are
  written under a fresh unique temporary name, fsynced and renamed. No
  file is created through a link, only regular files and tile folders of
  ours are ever replaced or deleted, every clash between the run's paths is
  bad input, and bad input creates nothing.
- A write failure mid-run (disk full, ``ulimit -f``; checked before each
  write, SIGXFSZ ignored) stops every rank with one line naming the file
  and the error, after saving the last good state where possible; the
  frames written stay readable in ``OUTPUT.part``; exit status 1.
- Before anything is allocated, the memory per rank is estimated and a run
  that does not fit the machine is bad input; so is an interval giving
  more than a million frames (``--allow-many-frames``); event times are
  computed lazily. Restart files are validated (real floats, finite,
  admissible, time >= 0, no links outside their folder, stored checksums).
- A signal before the first step (``python -m dycore.run`` takes note of
  signals before its heavier imports) ends every rank with 128 + N and one
  line, having written nothing.

Exit status: 0 done; 1 blow-up, or writing failed mid-run; 2 bad input;
128 + N stopped by signal N after writing a restart file (130 for Ctrl-C);
130 also for a second Ctrl-C, which stops without one.

Modules (imports point down this list):

- :mod:`~dycore.driver.main`: ``main()`` and the main loop;
- :mod:`~dycore.driver.files`: the Simulation -> :mod:`dycore.io` adapter
  (which fields a run writes) and the checks on the files to write;
- :mod:`~dycore.driver.faults`: the stability check and the blow-up report;
- :mod:`~dycore.driver.ranks`: agreement between ranks, deadlines, abort;
- :mod:`~dycore.driver.signals`: stop requests and exit statuses;
- :mod:`~dycore.driver.progress`: what is printed (the progress itself is
  :mod:`dycore.progress`: a bar on terminals, a line every
  ``progress_interval`` s of wall time in batch logs);
- :mod:`~dycore.driver.resources`: the memory a run needs, the number of events;
- :mod:`~dycore.driver.schedule`: event times, the default restart file name;
- :mod:`~dycore.driver.cli`: the parser and the config merge.

``main`` is imported from :mod:`dycore.driver.main` (this package exports
nothing itself, so that the module name stays the module).
"""
