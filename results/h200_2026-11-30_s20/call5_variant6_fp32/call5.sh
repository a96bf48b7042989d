#!/usr/bin/env bash
# Session 20, call 5: every variant-6 config (the FFMA staged families and the fp32 channels-last form, nsplit 5)
# timed by the exhaustive tuner on the 18 TDC shapes, fp32, batch 1 and 32: the log the model's nsplit-5 terms are
# checked (and scanned) against (tools/fit_model.py).
set -u
. tools/gpu_common.sh
DTYPES=fp32 BATCHES="1 32" variant_log 6 420
