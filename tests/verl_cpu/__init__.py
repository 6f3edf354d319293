"""verl 0.9.1's real trainer (`verl.trainer.main_ppo.run_ppo`, legacy TaskRunner) on CPU.

Imported as top-level `verl_cpu` (pytest puts `tests/` on sys.path; verl's wheel ships its own
`tests` package in site-packages, so `tests.verl_cpu` would not resolve). Every Ray process
gets it through verl's own hook `VERL_USE_EXTERNAL_MODULES=verl_cpu.plugin`, which
`verl/__init__.py` imports in every process that imports verl.

- `platform`: a `cpu` platform registered with `verl.plugin.platform.PlatformRegistry`
  (selected with `VERL_PLATFORM=cpu`).
- `rollout`: an HF-`generate` rollout: replica, server actor, in-worker adapter.
- `plugin`: registrations through verl's extension points, and the few patches for what has
  none, each applied right after the verl module it works around is imported.
- `runner`: the environment and config overrides a CPU run needs.
"""
