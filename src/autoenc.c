/*
 * autoenc.c — module initialisation and settings.
 *
 * Everything SQL-facing lives in its own file (one concern per file); this
 * one only registers the GUCs and sizes OpenBLAS's thread pool when the
 * library is loaded into a backend.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "ae_blas.h"
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
							PGC_USERSET, 0,
							NULL, AssignBlasThreads, NULL);

	DefineCustomIntVariable("autoenc.max_train_memory",
							"Largest amount of memory one training call may use for its data and model.",
							"Checked before anything is allocated.",
							&ae_max_train_memory_kb,
							1024 * 1024, 1024, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
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
