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

#include "ae_blas.h"
#include "autoenc.h"

PG_MODULE_MAGIC;

int			ae_blas_threads = 1;
int			ae_max_train_memory_kb = 1024 * 1024;	/* 1 GB */

void		_PG_init(void);

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

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("autoenc");
#else
	EmitWarningsOnPlaceholders("autoenc");
#endif

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
