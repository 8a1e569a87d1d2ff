#!/bin/bash
# femgp on a Slurm cluster: a template. Copy it, edit the #SBATCH lines and the
# variables below, then `sbatch slurm_job.sh`. It runs a case file
# (configs/*.toml) with `femgp run`, checkpoints every CHECKPOINT_EVERY steps,
# and resumes from the newest complete checkpoint when it is resubmitted or
# requeued. Works with the Apptainer image (FEMGP_IMAGE=femgp.sif, built from
# containers/femgp.def) or with femgp installed on the cluster (FEMGP_IMAGE empty).
#
#SBATCH --job-name=femgp-sent
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=32
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --output=%x-%j.out
# Time limit reached: Slurm sends SIGTERM to this batch shell (B:) 120 s before
# the kill; the trap below passes it to the ranks, femgp writes a checkpoint and
# exits with status 143, and the job requeues itself (needs --requeue).
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --open-mode=append

set -euo pipefail

# ---- edit these ---------------------------------------------------------------
FEMGP_IMAGE=${FEMGP_IMAGE:-}                      # e.g. $HOME/femgp.sif; empty: native femgp
FEMGP_SRC=${FEMGP_SRC:-/opt/femgp}                # the repo inside the image (configs/, demos/)
MODEL=${MODEL:-fracture}                          # cahn_hilliard, fracture or twinning
CASE=${CASE:-$FEMGP_SRC/configs/fracture_sent.toml}
OUT=${OUT:-${SCRATCH:-$PWD}/femgp/$SLURM_JOB_NAME}  # results + checkpoints (a parallel filesystem)
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-20}          # accepted steps between checkpoints
# PETSc options for the solvers (prefixes femgp_fracture_u_, femgp_fracture_alpha_,
# femgp_ch_, femgp_twinning_, femgp_twinning_u_, femgp_twinning_eta_; see
# docs/cluster.md), e.g. "-femgp_fracture_alpha_pc_type gamg -log_view" or
# "-femgp_ch_ksp_type gmres -femgp_ch_pc_type asm"; default none.
PETSC_OPTIONS_CLI=${PETSC_OPTIONS_CLI:-}
# --------------------------------------------------------------------------------

# One MPI rank per core: no threads inside PETSc/BLAS/torch.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# DOLFINx compiles forms just in time; share one cache per user on a shared disk.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache}

RESTART=()
if compgen -G "$OUT/checkpoints/*/COMPLETE.json" >/dev/null; then
    RESTART=(--restart)       # resume: newest complete checkpoint, any number of ranks
    echo "femgp: resuming from $OUT/checkpoints"
fi

# (${RESTART[@]+...}: an empty array is "unbound" under set -u in bash < 4.4)
RUN=(femgp run "$MODEL" --config "$CASE" --output "$OUT" --quiet
     --checkpoint-every "$CHECKPOINT_EVERY" ${RESTART[@]+"${RESTART[@]}"})
if [ -n "$FEMGP_IMAGE" ]; then
    # One container per rank; the image's MPICH talks to Slurm through PMI-2.
    LAUNCH=(srun --mpi=pmi2 apptainer exec --bind "$OUT" "$FEMGP_IMAGE")
    mkdir -p "$OUT"
else
    LAUNCH=(srun)             # or: mpirun -n "$SLURM_NTASKS"
fi

# srun runs in the background so that this shell can catch SIGTERM and pass it on.
# shellcheck disable=SC2086
"${LAUNCH[@]}" "${RUN[@]}" $PETSC_OPTIONS_CLI &
pid=$!
trap 'echo "femgp: SIGTERM, checkpointing"; kill -TERM "$pid" 2>/dev/null' TERM
set +e
wait "$pid"; status=$?
if [ "$status" -gt 128 ]; then wait "$pid"; status=$?; fi   # wait again after the trap
set -e

if [ "$status" -eq 143 ] || [ "$status" -eq 15 ]; then
    # Interrupted after writing a checkpoint: queue the rest of the run.
    echo "femgp: checkpoint written; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
