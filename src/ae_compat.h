/*
 * ae_compat.h — differences between the PostgreSQL versions autoenc builds
 * against: 15, 17 and 18, the versions Debian 12, 13 and unstable package
 * (scripts/test.sh and scripts/matrix.sh test each).  Each shim names the
 * release that changed the interface.
 */
#ifndef AE_COMPAT_H
#define AE_COMPAT_H

#include "postgres.h"

/*
 * Not before 15: PostgreSQL 13 and 14 are past their end of life, and 13
 * lacks the 2026 fix that refuses SQL calls of functions taking type
 * internal (CVE-2026-14680), such as the aggregate's support functions.
 */
#if PG_VERSION_NUM < 150000
#error "autoenc needs PostgreSQL 15 or later"
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
 * PostgreSQL 17 made a wait event set a resource of a resource owner, which
 * closes it when the transaction aborts; before, it lived in a memory
 * context and its owner had to close it on every path (the coordinator
 * frees its set in its PG_FINALLY, which covers both).
 */
#if PG_VERSION_NUM >= 170000
#define AeCreateWaitEventSet(nevents) CreateWaitEventSet(CurrentResourceOwner, (nevents))
#else
#define AeCreateWaitEventSet(nevents) CreateWaitEventSet(CurrentMemoryContext, (nevents))
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

/*
 * Privileges on a schema or a foreign server: object_aclcheck() replaced the per-class
 * pg_*_aclcheck() functions in PostgreSQL 16.
 */
#include "catalog/pg_namespace.h"
#include "utils/acl.h"
#include "catalog/pg_foreign_server.h"
#if PG_VERSION_NUM >= 160000
#define ae_namespace_aclcheck(nsp, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nsp), (roleid), (mode))
#define ae_foreign_server_aclcheck(srv, roleid, mode) \
	object_aclcheck(ForeignServerRelationId, (srv), (roleid), (mode))
#else
#define ae_namespace_aclcheck(nsp, roleid, mode) \
	pg_namespace_aclcheck((nsp), (roleid), (mode))
#define ae_foreign_server_aclcheck(srv, roleid, mode) \
	pg_foreign_server_aclcheck((srv), (roleid), (mode))
#endif

#endif							/* AE_COMPAT_H */
