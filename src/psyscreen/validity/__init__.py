"""Validity evidence: EFA, CFA, measurement invariance and ROC cutoffs."""
