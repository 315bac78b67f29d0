/*
 * autoenc.c — module initialisation and settings.
 *
 * Everything SQL-facing lives in its own file (one concern per file); this
 * one defines every setting (the variables live beside the code that reads
 * them), registers the cache's invalidation callbacks and sizes OpenBLAS's
 * thread pool when the library is loaded into a backend.
 *
 * The two settings that bound what one call may take from the machine,
 * autoenc.max_train_memory and autoenc.blas_threads, are PGC_SUSET: a limit
 * that every role may raise limits nothing.  A superuser sets them per role
 * or database (ALTER ROLE ... SET, ALTER DATABASE ... SET) or server-wide.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "ae_blas.h"
#include "ae_cache.h"
#include "ae_scorer.h"
#include "autoenc.h"

PG_MODULE_MAGIC;

int			ae_blas_threads = 1;
int			ae_max_train_memory_kb = 1024 * 1024;	/* 1 GB */

void		_PG_init(void);

static void *
PallocAlloc(void *ctx, size_t size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, size);
}

static void
PallocFree(void *ctx, void *ptr)
{
	pfree(ptr);
}

const AeAllocator ae_palloc_allocator = {PallocAlloc, PallocFree, NULL};

void
ae_check_status(AeStatus status, const char *errbuf, const char *what)
{
	int			code;
	const char *detail = (errbuf && errbuf[0]) ? errbuf : NULL;

	switch (status)
	{
		case AE_OK:
			return;
		case AE_ERR_CONFIG:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case AE_ERR_DATA:
			code = ERRCODE_DATA_EXCEPTION;
			break;
		case AE_ERR_NONFINITE:
			code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			break;
		case AE_ERR_CANCELED:
			code = ERRCODE_QUERY_CANCELED;
			break;
		case AE_ERR_FORMAT:
			code = ERRCODE_DATA_CORRUPTED;
			break;
		case AE_ERR_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		default:
			elog(ERROR, "unexpected autoenc status %d. Please report a bug.", (int) status);
			return;
	}
	if (detail)
		ereport(ERROR,
				(errcode(code),
				 errmsg("%s: %s", what, detail)));
	else
		ereport(ERROR,
				(errcode(code),
				 errmsg("%s: %s", what, ae_status_string(status))));
}

static void
AssignBlasThreads(int newval, void *extra)
{
	ae_blas_set_threads(newval);
}

void
_PG_init(void)
{
	DefineCustomIntVariable("autoenc.blas_threads",
							"Threads OpenBLAS may use for one training or scoring call.",
							"1 keeps training bit-reproducible for a seed and leaves "
							"the other cores to other backends.",
							&ae_blas_threads,
							1, 1, 64,
							PGC_SUSET, 0,
							NULL, AssignBlasThreads, NULL);

	DefineCustomIntVariable("autoenc.max_train_memory",
							"Largest amount of memory one training call may use for its data and model.",
							"Checked before anything is allocated.",
							&ae_max_train_memory_kb,
							1024 * 1024, 1024, MAX_KILOBYTES,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("autoenc.model_cache_size",
							"Number of models each backend keeps ready for scoring.",
							"Least recently used models beyond this number are dropped; "
							"models in use by running statements are always kept. "
							"0 keeps a model only while a statement uses it.",
							&ae_model_cache_size,
							16, 0, 10000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("autoenc.scoring_kernel",
							 "How scoring functions run the network on one row.",
							 "fused: a small vectorised kernel made for one row at a time; "
							 "blas: one OpenBLAS call per layer.  Both give the same "
							 "results up to float32 rounding.",
							 &ae_scoring_kernel,
							 AE_KERNEL_FUSED, ae_scoring_kernel_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	ae_cache_init();

	MarkGUCPrefixReserved("autoenc");

	/*
	 * The library is loaded into a backend, never into the postmaster before
	 * fork(), so sizing the pool here is safe.
	 */
	ae_blas_set_threads(ae_blas_threads);
}

PG_FUNCTION_INFO_V1(ae_version);

/* The version of the loaded library (may differ from the catalog's during an upgrade). */
Datum
ae_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(AE_LIBRARY_VERSION));
}
