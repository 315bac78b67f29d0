/*
 * ae_strmap.h — a map from NUL-terminated strings to an int32, on
 * PostgreSQL's lib/simplehash.h: the vocabulary of a categorical column
 * (ae_encoding.c) and the distinct texts of gathered rows (ae_mixed.c).
 * Keys are not copied: they must outlive the map.  Each includer gets its
 * own static copy of the functions, as simplehash.h makes them.
 */
#ifndef AE_STRMAP_H
#define AE_STRMAP_H

#include "postgres.h"

#include "common/hashfn.h"

typedef struct AeStrEntry
{
	const char *key;
	uint32		hash;
	int32		value;
	char		status;
} AeStrEntry;

#define SH_PREFIX		aestr
#define SH_ELEMENT_TYPE	AeStrEntry
#define SH_KEY_TYPE		const char *
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b)	(strcmp(a, b) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)	a->hash
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#endif							/* AE_STRMAP_H */
