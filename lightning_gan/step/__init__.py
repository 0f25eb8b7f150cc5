"""What the alternating GAN step is made of, beside the step itself (``lightning_gan.module``).

* :mod:`~lightning_gan.step.records`: one record per network (module, optimizer, schedulers,
  accumulation, counters) and the phase records the hooks receive (``DStep``, ``GStep``);
* :mod:`~lightning_gan.step.optimizing`: the one loop body every optimizer step runs (zero the
  stepped network's gradients, backward, accumulate, average across ranks, guarded step,
  schedules);
* :mod:`~lightning_gan.step.conditioning`: the only owner of class labels;
* :mod:`~lightning_gan.step.nonfinite`: the policy for NaN/inf updates;
* :mod:`~lightning_gan.step.log_cadence`: when a value logged inside the step reaches a logger;
* :mod:`~lightning_gan.step.checkpoint_state`: what a checkpoint holds beyond the weights;
* :mod:`~lightning_gan.step.lr_schedules`: schedulers stepped as Lightning would;
* :mod:`~lightning_gan.step.input_checks`: the checks made before any weight changes.
"""
