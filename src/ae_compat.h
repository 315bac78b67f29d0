/*
 * ae_compat.h — differences between the PostgreSQL versions autoenc builds
 * against: 13, 15, 17 and 18, the versions Debian 11 to unstable package
 * (scripts/matrix.sh tests each).  Each shim names the release that made it
 * unnecessary, or the release that changed an interface.
 */
#ifndef AE_COMPAT_H
#define AE_COMPAT_H

#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"

#if PG_VERSION_NUM < 150000
#include "miscadmin.h"
#include "utils/tuplestore.h"

/*
 * InitMaterializedSRF() appeared in PostgreSQL 15: before, every
 * set-returning function built its tuplestore by hand like this.
 */
static inline void
InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext per_query,
				old;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	per_query = rsinfo->econtext->ecxt_per_query_memory;
	old = MemoryContextSwitchTo(per_query);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(old);
}
#endif

#if PG_VERSION_NUM < 140000
/* the catalogs' index OIDs: in catalog/indexing.h until PostgreSQL 14 */
#include "catalog/indexing.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/numeric.h"

/*
 * HASH_STRINGS appeared in PostgreSQL 14; before, a hash table with neither
 * HASH_BLOBS nor HASH_FUNCTION hashed and compared its keys as C strings.
 */
#define HASH_STRINGS 0

/*
 * int64_to_numeric() was exported in PostgreSQL 14; int8_numeric is what
 * it was called through before.
 */
static inline Numeric
int64_to_numeric(int64 v)
{
	return DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(v)));
}
#endif

#if PG_VERSION_NUM < 170000
#include "common/jsonapi.h"

/*
 * PostgreSQL 17 lets the caller provide the lexer's storage (first
 * argument); autoenc always passes NULL, a new one, as before.
 */
#define makeJsonLexContextCstringLen(lex, json, len, encoding, need_escapes) \
	(AssertMacro((lex) == NULL), \
	 makeJsonLexContextCstringLen((json), (len), (encoding), (need_escapes)))
#endif

/* PostgreSQL 17 moved a backend's local transaction id into PGPROC.vxid. */
#if PG_VERSION_NUM >= 170000
#define AE_PROC_LXID(proc) ((proc)->vxid.lxid)
#else
#define AE_PROC_LXID(proc) ((proc)->lxid)
#endif

/*
 * PostgreSQL 18 declares noreturn functions with pg_noreturn in front (the
 * C11 function specifier) instead of pg_attribute_noreturn() after.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * The bytes pg_b64_encode() reads and pg_b64_decode() writes: uint8 from
 * PostgreSQL 18 on, char before.
 */
#if PG_VERSION_NUM >= 180000
typedef uint8 ae_b64_byte;
#else
typedef char ae_b64_byte;
#endif

#endif							/* AE_COMPAT_H */
