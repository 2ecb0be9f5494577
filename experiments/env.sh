# env.sh — environment for running pipecast's MPI programs on one machine; source it.
# One OpenBLAS thread per rank (ranks are the parallelism); Open MPI as root and with more ranks
# than cores (the tests oversubscribe a 2-core machine on purpose).
export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
