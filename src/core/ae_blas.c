/*
 * ae_blas.c — thin wrappers over OpenBLAS's CBLAS interface.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* RTLD_DEFAULT */
#endif

#include "ae_blas.h"

#include <cblas.h>
#include <dlfcn.h>

void
ae_gemm(bool transA, bool transB, int M, int N, int K,
		float alpha, const float *A, int lda,
		const float *B, int ldb,
		float beta, float *C, int ldc)
{
	cblas_sgemm(CblasRowMajor,
				transA ? CblasTrans : CblasNoTrans,
				transB ? CblasTrans : CblasNoTrans,
				M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/*
 * With one thread, OpenBLAS's pool is stopped as well.  The library's
 * constructor starts one thread per core when it is loaded, and an idle
 * pool thread polls (sched_yield) for about 0.1 s before it sleeps: in every
 * process that loads autoenc — each parallel worker of a scoring query, each
 * new connection — that is CPU taken from the processes doing the work.
 * blas_thread_shutdown_ (the pthreads build's own fork handler) joins the
 * threads; OpenBLAS starts the pool again by itself when more threads are
 * asked for (openblas_set_num_threads, which also restarts it for 1 — hence
 * the shutdown after it).  Builds without it (serial) have no pool.
 */
void
ae_blas_set_threads(int n)
{
	static int	(*shutdown_pool) (void) = NULL;
	static bool looked_up = false;

	openblas_set_num_threads(n < 1 ? 1 : n);
	if (n > 1)
		return;
	if (!looked_up)
	{
		*(void **) (&shutdown_pool) = dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
		looked_up = true;
	}
	if (shutdown_pool != NULL)
		shutdown_pool();
}
