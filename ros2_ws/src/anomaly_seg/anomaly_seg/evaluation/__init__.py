"""Evaluation of anomaly scores and obstacle segments against ground truth: one accumulator (``accumulator``), the
bag / live evaluator (``bag_evaluator``, ``matching``, ``routing``, ``bag_source``) and one report writer
(``report``, ``plots``, ``contact_sheet``)."""
