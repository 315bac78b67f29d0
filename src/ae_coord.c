/*
 * ae_coord.c — the coordinator of a sharded training (doc/scaling.md):
 * ae_train_sharded(model, relation, columns, key, options).
 *
 * Every leaf of the relation is a shard: a local table is worked on in this
 * backend (ae_shard.c called directly), a foreign table (postgres_fdw) on
 * its server over a libpq connection of our own, made from the foreign
 * server's and the user mapping's options.  For every optimiser step the
 * weights go to every shard, each returns the gradient sums of its rows of
 * that step's batch, and the step is taken here on their sum.  The remote
 * calls of a step run while the local shards compute; waiting on them
 * checks for interrupts, so a cancel or statement_timeout here ends the
 * training, and the cleanup cancels the remote statements and closes the
 * connections, which ends the remote backends and frees their rows.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <sys/socket.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/fmgroids.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/acl.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ae_catalog.h"
#include "ae_compat.h"
#include "ae_coord.h"
#include "ae_norm.h"
#include "ae_optim.h"
#include "ae_shard.h"
#include "ae_train.h"
#include "ae_training.h"
#include "autoenc.h"

#define N_RESULT_COLUMNS 7

typedef struct Shard
{
	const char *name;			/* the partition, for messages */
	Oid			relid;
	AeShard    *local;			/* a partition of this server, or NULL */
	PGconn	   *conn;			/* a foreign partition's connection */
	char	   *ext_schema;		/* quoted schema of autoenc on the remote server */
	char	   *remote_rel;		/* the remote table, quoted and qualified */
	bool		open;			/* ae_shard_open succeeded remotely */
	bool		agg;			/* the aggregate mode's one shard: queries on this server */
	bool		calling;		/* a call was sent whose result is not read yet */
	PGresult   *result;			/* its last result so far */
	int			wait_pos;		/* its socket's place in Coord.waits */
} Shard;

typedef struct Coord
{
	const char *what;
	char	   *session;
	uint32		tag;			/* high 32 bits of every snapshot identity */
	uint32		step_no;
	/* where a step's time goes (verbose): snapshot out, the calls, merge + optimiser */
	instr_time	t_snapshot;
	instr_time	t_calls;
	instr_time	t_send;
	instr_time	t_local;
	instr_time	t_merge;
	int			n_shards;
	Shard	   *shards;
	WaitEventSet *waits;		/* every remote shard's socket, the latch, postmaster death */
	const AeBundle *warm;		/* a warm start's stored model, or NULL */
	StringInfo	colnames;		/* the column names end to end, NUL-terminated (ColumnNames) */
	/*
	 * The aggregate mode: every call is a query over the relation (AggCall);
	 * the snapshots carry the normalisation, since no shard holds rows to
	 * normalise.
	 */
	const char *nsp;			/* autoenc's schema, quoted */
	char	   *agg_rel;		/* the relation, quoted and qualified */
	char	   *agg_step_sql;
	char	   *agg_val_sql;
	char	   *agg_rows_sql;
	const float *norm_offset;
	const float *norm_scale;
	int			d;
	/* the approximate mode: local epochs averaged, the options sent along */
	bool		approximate;
	Jsonb	   *options;
	char	   *options_text;
} Coord;

/* ------------------------------------------------------------ connections */

/* Is keyword an option libpq itself knows (not one of postgres_fdw's own)? */
static bool
IsLibpqOption(PQconninfoOption *defs, const char *keyword)
{
	for (PQconninfoOption *o = defs; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return true;
	return false;
}

static void
AddOptions(List *options, PQconninfoOption *defs, const char **keys, const char **vals, int *n)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (IsLibpqOption(defs, def->defname) && strcmp(def->defname, "client_encoding") != 0)
		{
			keys[*n] = def->defname;
			vals[*n] = defGetString(def);
			(*n)++;
		}
	}
}

/*
 * A step moves a snapshot and a gradient of 4 bytes a parameter each way.
 * On a unix socket the default buffer (about 200 kB) makes both ends wait
 * for each other every few kilobytes; widen it so that a whole partial fits
 * (the kernel caps the size at net.core.wmem_max/rmem_max).  TCP sockets
 * are left alone: their buffers grow by themselves, and setting a size
 * would switch that off.
 */
#define SOCKET_BUFFER	(8 * 1024 * 1024)	/* two snapshots of a 1M-parameter network */

static void
WidenSocket(pgsocket sock)
{
	struct sockaddr_storage addr;
	socklen_t	len = sizeof(addr);
	int			size = SOCKET_BUFFER;

	if (sock == PGINVALID_SOCKET ||
		getsockname(sock, (struct sockaddr *) &addr, &len) != 0 ||
		addr.ss_family != AF_UNIX)
		return;
	/* best effort: a smaller buffer only costs time */
	(void) setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	(void) setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* a step's call, prepared on every connection as StepStatement */
static const char *const StepSql = "SELECT %s.ae_shard_step($1, $2, $3, $4, $5)";
static const char *const StepStatement = "autoenc_step";

/*
 * Wait until conn's socket is ready for events, or the deadline (0: none)
 * passes (returns false); a cancel or statement_timeout raises meanwhile.
 */
static bool
WaitSocket(PGconn *conn, int events, TimestampTz deadline)
{
	for (;;)
	{
		long		ms = -1;
		int			rc;

		if (deadline != 0)
		{
			ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (ms <= 0)
				return false;
		}
		rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | events |
							   (deadline != 0 ? WL_TIMEOUT : 0),
							   PQsocket(conn), ms, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
			return true;
	}
}

/*
 * The end of libpq's connect_timeout among the connection options (libpq
 * applies it only when it waits itself; 0: none).  As libpq, a timeout
 * below 2 s is 2 s.
 */
static TimestampTz
ConnectDeadline(const char **keys, const char **vals)
{
	int			secs = 0;

	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], "connect_timeout") == 0 && vals[i])
			secs = atoi(vals[i]);
	if (secs <= 0)
		return 0;
	return TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000L * Max(secs, 2));
}

/*
 * The last result of what was sent on conn, waiting interruptibly (a
 * cancel or statement_timeout raises); NULL when the connection broke.
 */
static PGresult *
LastResult(PGconn *conn)
{
	PGresult   *last = NULL;

	for (;;)
	{
		PGresult   *res;

		while (PQisBusy(conn))
		{
			(void) WaitSocket(conn, WL_SOCKET_READABLE, 0);
			if (!PQconsumeInput(conn))
			{
				PQclear(last);
				return NULL;
			}
		}
		res = PQgetResult(conn);
		if (res == NULL)
			return last;
		PQclear(last);
		last = res;
	}
}

/*
 * PQexecParams (text parameters and results) that a cancel or
 * statement_timeout interrupts, for the short queries that set a
 * connection up and close a session; NULL when the query could not be sent
 * or the connection broke.
 */
static PGresult *
ExecInterruptibly(PGconn *conn, const char *sql, int nparams, const char *const *values)
{
	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0))
		return NULL;
	return LastResult(conn);
}

/* A set-up command's result on sh's new connection: raises unless it succeeded; cleared. */
static void
SetUpDone(Coord *c, Shard *sh, const char *servername, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char	   *msg = pchomp(res ? PQresultErrorMessage(res) : PQerrorMessage(sh->conn));

		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s: could not set up the session on server \"%s\" (%s)", c->what,
						servername, sh->name),
				 errdetail_internal("%s", msg)));
	}
	PQclear(res);
}

/*
 * Connect sh with base (keys/vals, n filled) plus the user mapping's libpq
 * options, and find autoenc's schema on the other side.
 */
static void
Connect(Coord *c, Shard *sh, const char *servername, UserMapping *um,
		const char **keys, const char **vals, int n, bool expand)
{
	PQconninfoOption *defs = PQconndefaults();
	PGresult   *res;

	if (defs == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	AddOptions(um->options, defs, keys, vals, &n);
	PQconninfoFree(defs);
	keys[n] = "fallback_application_name";
	vals[n++] = "autoenc shard";
	keys[n] = "client_encoding";
	vals[n++] = GetDatabaseEncodingName();
	keys[n] = NULL;

	/*
	 * Connect as postgres_fdw does from PostgreSQL 16 on: libpq's steps one
	 * at a time, waiting on the latch too, so that a cancel or
	 * statement_timeout ends a connection to a server that does not answer
	 * (PQconnectdbParams would wait in the kernel, deaf to both).  The
	 * connection is sh's before the first wait: an error on the way closes
	 * it (CloseShards).
	 */
	sh->conn = PQconnectStartParams(keys, vals, expand);
	if (sh->conn && PQstatus(sh->conn) != CONNECTION_BAD)
	{
		PostgresPollingStatusType st = PGRES_POLLING_WRITING;
		TimestampTz deadline = ConnectDeadline(keys, vals);

		while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
		{
			if (!WaitSocket(sh->conn, st == PGRES_POLLING_READING ? WL_SOCKET_READABLE
							: WL_SOCKET_WRITEABLE, deadline))
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("%s: could not connect to server \"%s\" for %s",
								c->what, servername, sh->name),
						 errdetail("The connection was not made within connect_timeout.")));
			st = PQconnectPoll(sh->conn);
		}
	}
	if (sh->conn == NULL || PQstatus(sh->conn) != CONNECTION_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("%s: could not connect to server \"%s\" for %s",
						c->what, servername, sh->name),
				 errdetail_internal("%s", sh->conn ? pchomp(PQerrorMessage(sh->conn)) : "out of memory")));
	/* as postgres_fdw: only a superuser may connect without a password */
	if (!superuser() && !PQconnectionUsedPassword(sh->conn))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("%s: password is required to connect to server \"%s\"",
						c->what, servername),
				 errhint("Non-superusers must give a password in the user mapping.")));

	res = ExecInterruptibly(sh->conn,
							"SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
							" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
							" WHERE e.extname OPERATOR(pg_catalog.=) 'autoenc'", 0, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s: autoenc is not installed on server \"%s\" (%s)", c->what,
						servername, sh->name),
				 errhint("Run CREATE EXTENSION autoenc in the database the server points at.")));
	}
	sh->ext_schema = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);

	/*
	 * A custom plan folds a call's parameters into the plan as constants,
	 * which copies a step's snapshot of megabytes twice more on the shard
	 * (about 1% of a shard's time on 784-256-64-256-784); a generic plan
	 * hands the function the parameter as it arrived.
	 */
	res = ExecInterruptibly(sh->conn, "SET plan_cache_mode = force_generic_plan", 0, NULL);
	SetUpDone(c, sh, servername, res);

	/* the step, a call per optimiser step: parsed and planned once */
	{
		char	   *sql = psprintf(StepSql, sh->ext_schema);

		res = PQsendPrepare(sh->conn, StepStatement, sql, 5, NULL) ? LastResult(sh->conn) : NULL;
		pfree(sql);
	}
	SetUpDone(c, sh, servername, res);
	WidenSocket(PQsocket(sh->conn));
	/* a step's snapshots go to every shard at once (PumpAll) */
	if (PQsetnonblocking(sh->conn, 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("%s: could not make the connection for %s non-blocking", c->what, sh->name)));
}

/* A connection to the server of foreign table relid, as its user mapping says. */
static void
ConnectShard(Coord *c, Shard *sh, Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(ft->serverid);
	UserMapping *um = GetUserMapping(GetUserId(), ft->serverid);
	PQconninfoOption *defs = PQconndefaults();
	int			max = list_length(server->options) + list_length(um->options) + 3;
	const char **keys = palloc0(sizeof(char *) * max);
	const char **vals = palloc0(sizeof(char *) * max);
	int			n = 0;
	const char *nsp = NULL;
	const char *rel = NULL;
	ListCell   *lc;

	/* the rows are read behind the foreign table: its privileges apply */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
	if (defs == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	AddOptions(server->options, defs, keys, vals, &n);
	PQconninfoFree(defs);
	Connect(c, sh, server->servername, um, keys, vals, n, false);

	foreach(lc, ft->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "schema_name") == 0)
			nsp = defGetString(def);
		else if (strcmp(def->defname, "table_name") == 0)
			rel = defGetString(def);
	}
	if (nsp == NULL)
		nsp = get_namespace_name(get_rel_namespace(relid));
	if (rel == NULL)
		rel = get_rel_name(relid);
	sh->remote_rel = quote_qualified_identifier(nsp, rel);
}

/*
 * The partitions of a PL/Proxy cluster defined with SQL/MED (CREATE SERVER
 * ... FOREIGN DATA WRAPPER plproxy OPTIONS (p0 'connstr', p1 ...)): one
 * shard per partition, each reading relation (a name resolved there).
 */
static void
CollectPlproxyShards(Coord *c, const char *cluster, const char *relation)
{
	ForeignServer *server = GetForeignServerByName(cluster, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	UserMapping *um;
	ListCell   *lc;
	int			n = 0;
	const char **conn;

	if (strcmp(fdw->fdwname, "plproxy") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: server \"%s\" is not a PL/Proxy cluster", c->what, cluster),
				 errdetail("Its foreign-data wrapper is \"%s\".", fdw->fdwname)));
	if (ae_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FOREIGN_SERVER, cluster);
	um = GetUserMapping(GetUserId(), server->serverid);
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);
		const char *d = def->defname;

		if (d[0] == 'p' && d[1] >= '0' && d[1] <= '9' && strspn(d + 1, "0123456789") == strlen(d + 1))
			n++;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: PL/Proxy cluster \"%s\" has no partitions", c->what, cluster)));
	conn = palloc0(sizeof(char *) * n);
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);
		const char *d = def->defname;

		if (d[0] == 'p' && d[1] >= '0' && d[1] <= '9' && strspn(d + 1, "0123456789") == strlen(d + 1))
		{
			long		k = strtol(d + 1, NULL, 10);

			if (k < 0 || k >= n || conn[k] != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: the partitions of PL/Proxy cluster \"%s\" are not numbered 0 to %d",
								c->what, cluster, n - 1)));
			conn[k] = defGetString(def);
		}
	}
	c->n_shards = n;
	c->shards = palloc0(sizeof(Shard) * n);
	for (int i = 0; i < n; i++)
	{
		Shard	   *sh = &c->shards[i];
		const char **keys = palloc0(sizeof(char *) * (list_length(um->options) + 4));
		const char **vals = palloc0(sizeof(char *) * (list_length(um->options) + 4));

		sh->name = psprintf("partition %d of cluster %s", i, cluster);
		keys[0] = "dbname";
		vals[0] = conn[i];
		Connect(c, sh, cluster, um, keys, vals, 1, true);
		sh->remote_rel = pstrdup(relation);
	}
}

/* ------------------------------------------------------------ remote calls */

pg_noreturn static void
ConnectionLost(Coord *c, Shard *sh, const char *doing)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("%s: %s the shard of %s", c->what, doing, sh->name),
			 errdetail_internal("%s", pchomp(PQerrorMessage(sh->conn)))));
}

/* Send one call; params are text except those marked binary (bytea). */
static void
SendCall(Coord *c, Shard *sh, const char *fmt, int nparams, const char **values,
		 const int *lengths, const int *binary)
{
	char	   *sql = psprintf(fmt, sh->ext_schema);

	if (!PQsendQueryParams(sh->conn, sql, nparams, NULL, values, lengths, binary, 1))
		ConnectionLost(c, sh, "could not send to");
	sh->calling = true;
	pfree(sql);
}

/*
 * One wait over every remote shard's socket: a step sends megabytes to each
 * shard and reads megabytes back, and a kernel socket buffer holds a few
 * hundred kilobytes, so each transfer takes many turns.  Served one shard
 * after the other, a shard that finishes first would stall in its send
 * until the coordinator came to it; here whichever socket is ready is
 * served (libpq buffers what it reads).
 */
static void
MakeWaitSet(Coord *c)
{
	int			n = 2;

	for (int i = 0; i < c->n_shards; i++)
		n += c->shards[i].conn != NULL;
	c->waits = AeCreateWaitEventSet(n);
	AddWaitEventToSet(c->waits, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(c->waits, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].conn)
			c->shards[i].wait_pos = AddWaitEventToSet(c->waits, WL_SOCKET_READABLE,
													  PQsocket(c->shards[i].conn), NULL,
													  &c->shards[i]);
}

/*
 * Send what the shards' pending calls still hold, then wait until a socket
 * can take more or has something to read (or the latch is set), and read
 * it into libpq's buffer.  Returns false, without waiting, when nothing is
 * left to send and wait_read is false.  Interruptible: a cancel or
 * statement_timeout on the coordinator ends the wait.
 */
static bool
PumpOnce(Coord *c, bool wait_read)
{
	WaitEvent	events[16];
	bool		sending = false;
	int			n;

	for (int i = 0; i < c->n_shards; i++)
	{
		Shard	   *sh = &c->shards[i];
		int			r;

		if (sh->conn == NULL)
			continue;
		r = PQflush(sh->conn);
		if (r < 0)
			ConnectionLost(c, sh, "could not send to");
		sending |= r == 1;
		ModifyWaitEvent(c->waits, sh->wait_pos,
						WL_SOCKET_READABLE | (r == 1 ? WL_SOCKET_WRITEABLE : 0), NULL);
	}
	if (!sending && !wait_read)
		return false;
	n = WaitEventSetWait(c->waits, -1L, events, lengthof(events), PG_WAIT_EXTENSION);
	for (int k = 0; k < n; k++)
	{
		Shard	   *sh = events[k].user_data;

		if (events[k].events & WL_LATCH_SET)
			ResetLatch(MyLatch);
		else if (sh && (events[k].events & WL_SOCKET_READABLE) && !PQconsumeInput(sh->conn))
			ConnectionLost(c, sh, "lost the connection to");
	}
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* Send every shard's pending call to the end. */
static void
PumpAll(Coord *c)
{
	while (PumpOnce(c, false))
		;
}

/*
 * Has sh's call finished?  Takes what libpq has complete into sh->result
 * and never blocks.
 */
static bool
CallDone(Shard *sh)
{
	while (sh->calling && !PQisBusy(sh->conn))
	{
		PGresult   *res = PQgetResult(sh->conn);

		if (res == NULL)
			sh->calling = false;
		else
		{
			if (sh->result)
				PQclear(sh->result);
			sh->result = res;
		}
	}
	return !sh->calling;
}

/*
 * The one value (binary bytea) of sh's finished call, in sh->result: the
 * caller clears it (or CloseShards does).  Raises the shard's error.
 */
static const char *
CallValue(Coord *c, Shard *sh, size_t *len)
{
	PGresult   *res = sh->result;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		char	   *msg = pchomp(res ? PQresultErrorMessage(res) : PQerrorMessage(sh->conn));
		int			code = state ? MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4])
			: ERRCODE_CONNECTION_FAILURE;

		ereport(ERROR,
				(errcode(code),
				 errmsg("%s: the shard of %s failed", c->what, sh->name),
				 errdetail_internal("%s", msg)));
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("%s: the shard of %s returned an unexpected result",
						c->what, sh->name)));
	*len = PQgetlength(res, 0, 0);
	return PQgetvalue(res, 0, 0);
}

static void
ClearResult(Shard *sh)
{
	if (sh->result)
		PQclear(sh->result);
	sh->result = NULL;
}

/* Wait for sh's call and copy its value out. */
static bytea *
WaitResult(Coord *c, Shard *sh)
{
	const char *v;
	size_t		len;
	bytea	   *out;

	while (!CallDone(sh))
		(void) PumpOnce(c, true);
	v = CallValue(c, sh, &len);
	out = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), v, len);
	ClearResult(sh);
	return out;
}

/* Cancel whatever a shard runs and close it: its backend frees its rows. */
static void
CloseShards(Coord *c, bool polite)
{
	if (c->waits)
		FreeWaitEventSet(c->waits);
	c->waits = NULL;
	for (int i = 0; i < c->n_shards; i++)
	{
		Shard	   *sh = &c->shards[i];

		if (sh->conn == NULL)
			continue;
		ClearResult(sh);
		if (polite && sh->open && PQtransactionStatus(sh->conn) == PQTRANS_IDLE &&
			PQsetnonblocking(sh->conn, 0) == 0)
		{
			char	   *sql = psprintf("SELECT %s.ae_shard_close($1)", sh->ext_schema);
			const char *v[1] = {c->session};
			PGresult   *res = ExecInterruptibly(sh->conn, sql, 1, v);

			PQclear(res);
		}
		else if (PQtransactionStatus(sh->conn) == PQTRANS_ACTIVE)
		{
			PGcancel   *cancel = PQgetCancel(sh->conn);
			char		buf[256];

			if (cancel)
			{
				(void) PQcancel(cancel, buf, sizeof(buf));
				PQfreeCancel(cancel);
			}
		}
		PQfinish(sh->conn);
		sh->conn = NULL;
	}
}

/* ------------------------------------------------------------ shards */

static void
CollectShards(Coord *c, Oid relid)
{
	List	   *leaves = NIL;
	ListCell   *lc;
	int			i = 0;

	if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
	{
		foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
		{
			Oid			child = lfirst_oid(lc);

			if (get_rel_relkind(child) != RELKIND_PARTITIONED_TABLE)
				leaves = lappend_oid(leaves, child);
		}
	}
	else
		leaves = list_make1_oid(relid);
	if (leaves == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: the partitioned table has no partitions", c->what)));
	c->n_shards = list_length(leaves);
	c->shards = palloc0(sizeof(Shard) * c->n_shards);
	foreach(lc, leaves)
	{
		Oid			leaf = lfirst_oid(lc);

		c->shards[i].relid = leaf;
		c->shards[i].name = psprintf("partition %s",
									 quote_qualified_identifier(get_namespace_name(get_rel_namespace(leaf)),
																get_rel_name(leaf)));
		if (get_rel_relkind(leaf) == RELKIND_FOREIGN_TABLE)
			ConnectShard(c, &c->shards[i], leaf);
		i++;
	}
}

/* ------------------------------------------------------------ the aggregate engine */

/*
 * mode 'aggregate': no backend holds rows between steps.  Every call is one
 * query over the relation on this server, run through SPI as the caller
 * (privileges and row-level security apply), with the step's aggregate
 * ae_grad_agg in it; an engine that distributes aggregates (Citus) computes
 * it on its workers, a parallel plan in its workers.  Each step therefore
 * scans the relation: the price of keeping nothing in a session.
 */

/* One query's single bytea value, copied out of SPI (NULL: SQL NULL). */
static bytea *
AggQuery(const char *sql, int nargs, Oid *types, Datum *values)
{
	MemoryContext outer = CurrentMemoryContext;
	bytea	   *out = NULL;
	bool		isnull;
	Datum		v;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	/* read-only: every query of the training sees the calling statement's snapshot */
	ret = SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "aggregate query returned %s", SPI_result_code_string(ret));
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		out = DatumGetByteaPCopy(v);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return out;
}

/* The float8 values of a query's one row, into out (ncols of them; NULL as 0). */
static void
AggNumbers(const char *sql, int ncols, double *out)
{
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	ret = SPI_execute(sql, true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != ncols)
		elog(ERROR, "statistics query returned %s", SPI_result_code_string(ret));
	for (int i = 0; i < ncols; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		out[i] = isnull ? 0 : DatumGetFloat8(v);
	}
	SPI_finish();
}

/* at most this many columns a statistics query: four aggregates each stay under 1664 */
#define AGG_STATS_COLUMNS 256

/*
 * The stats partial (the format ae_shard_open returns) computed with plain
 * aggregates, two passes like AeShardStats (Σ(x − mean)² does not cancel),
 * and the three queries a step, a validation pass and the final errors run.
 */
static bytea *
AggOpen(Coord *c, Oid relid, char **columns, int ncols, const char *key, int64 seed,
		double validation_fraction)
{
	const char *nsp = c->nsp;
	char	   *rel;
	StringInfoData x,
				k,
				q;
	char		split[128];
	char		seed_lit[64];
	int			d = ncols;
	double	   *out = palloc0(sizeof(double) * (3 + 4 * (size_t) d));
	double	   *row = palloc(sizeof(double) * (3 + 4 * AGG_STATS_COLUMNS));
	double		n = 0;
	int32		ints[2] = {d, AE_SHARD_INPUT_COLUMNS};
	bool		float4;

	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	Assert(key != NULL);		/* TrainEntry refuses the mode without one */
	if (AeShardCheckColumns(relid, columns, ncols, key, &float4))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: mode \"aggregate\" reads named columns, and \"%s\" is an array",
						c->what, columns[0]),
				 errhint("Train on an array column in the exact mode (mode => 'exact').")));
	rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
	c->agg_rel = rel;
	initStringInfo(&k);
	appendStringInfo(&k, "(%s)::pg_catalog.text", quote_identifier(key));
	snprintf(seed_lit, sizeof(seed_lit), "'" INT64_FORMAT "'::pg_catalog.int8", seed);
	snprintf(split, sizeof(split), "%s, '%.17g'::pg_catalog.float8", seed_lit, validation_fraction);

	/* pass 1: counts, sums, extremes; pass 2: squared deviations from the mean */
	for (int pass = 1; pass <= 2; pass++)
		for (int j0 = 0; j0 < d; j0 += AGG_STATS_COLUMNS)
		{
			int			j1 = Min(d, j0 + AGG_STATS_COLUMNS);
			int			m = 0;

			initStringInfo(&q);
			appendStringInfoString(&q, "SELECT pg_catalog.count(*)::pg_catalog.float8");
			if (pass == 1)
			{
				appendStringInfo(&q, ", pg_catalog.count(%s)::pg_catalog.float8", k.data);
				appendStringInfo(&q, ", pg_catalog.sum((%s.ae_shard_is_validation(%s, %s))::pg_catalog.int4)::pg_catalog.float8",
								 nsp, k.data, split);
			}
			for (int j = j0; j < j1; j++)
			{
				const char *col = quote_identifier(columns[j]);

				if (pass == 1)
					appendStringInfo(&q, ", pg_catalog.count(%1$s)::pg_catalog.float8, pg_catalog.sum((%1$s)::pg_catalog.float8),"
									 " pg_catalog.min((%1$s)::pg_catalog.float8), pg_catalog.max((%1$s)::pg_catalog.float8)", col);
				else
					appendStringInfo(&q, ", pg_catalog.sum(((%1$s)::pg_catalog.float8 OPERATOR(pg_catalog.-) %2$.17g::pg_catalog.float8)"
									 " OPERATOR(pg_catalog.*) ((%1$s)::pg_catalog.float8 OPERATOR(pg_catalog.-) %2$.17g::pg_catalog.float8))",
									 col, out[3 + j]);
			}
			appendStringInfo(&q, " FROM %s", rel);
			m = pass == 1 ? 3 + 4 * (j1 - j0) : 1 + (j1 - j0);
			AggNumbers(q.data, m, row);
			if (j0 == 0 && pass == 1)
			{
				n = row[0];
				if (row[1] != n)
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("key column \"%s\" is NULL in %.0f rows of %s", key, n - row[1], rel),
							 errhint("A sharded training needs a key in every row.")));
				out[0] = n;
				out[2] = row[2];
				out[1] = n - row[2];
			}
			else if (row[0] != n)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%s: the rows of %s changed while their statistics were read", c->what, rel)));
			for (int j = j0; j < j1; j++)
			{
				if (pass == 1)
				{
					const double *r = row + 3 + 4 * (j - j0);

					if (r[0] != n)
						ereport(ERROR,
								(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
								 errmsg("column \"%s\" is NULL in %.0f rows of %s", columns[j], n - r[0], rel)));
					if (!isfinite(r[1]) || !isfinite(r[2]) || !isfinite(r[3]) ||
						fabs(r[2]) > FLT_MAX || fabs(r[3]) > FLT_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_DATA_EXCEPTION),
								 errmsg("column \"%s\" of %s holds a value that is not a finite real", columns[j], rel)));
					out[3 + j] = n > 0 ? r[1] / n : 0;
					out[3 + 2 * d + j] = r[2];
					out[3 + 3 * d + j] = r[3];
				}
				else
					out[3 + d + j] = row[1 + (j - j0)];
			}
		}

	/* the calls of the training */
	initStringInfo(&x);
	appendStringInfoString(&x, "ARRAY[");
	for (int j = 0; j < d; j++)
		appendStringInfo(&x, "%s(%s)::pg_catalog.float4", j ? ", " : "", quote_identifier(columns[j]));
	appendStringInfoChar(&x, ']');
	c->agg_step_sql = psprintf("SELECT %1$s.ae_grad_finish(%1$s.ae_grad_agg($1, %2$s), $1) FROM %3$s"
							   " WHERE NOT %1$s.ae_shard_is_validation(%4$s, %5$s)"
							   " AND %1$s.ae_shard_batch(%4$s, %6$s, $2, $3) OPERATOR(pg_catalog.=) $4",
							   nsp, x.data, rel, k.data, split, seed_lit);
	c->agg_val_sql = psprintf("SELECT %1$s.ae_grad_finish(%1$s.ae_grad_agg($1, %2$s), $1) FROM %3$s"
							  " WHERE %1$s.ae_shard_is_validation(%4$s, %5$s)",
							  nsp, x.data, rel, k.data, split);
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (int j = 0; j < d; j++)
		appendStringInfo(&q, "%s(%s)::pg_catalog.float8", j ? ", " : "", quote_identifier(columns[j]));
	appendStringInfo(&q, " FROM %s", rel);
	c->agg_rows_sql = q.data;
	c->d = d;
	return AeShardMakeState(AE_GS_STATS, 0, 0, 0, (int64) n, ints, 2, out, 3 + 4 * d, NULL, 0);
}

/* One call of the aggregate mode: the answer a session shard would give. */
static bytea *
AggCall(Coord *c, const bytea *snap, int epoch, int batch, int n_batches, int eval_what)
{
	Oid			types[4] = {BYTEAOID, INT4OID, INT4OID, INT4OID};
	Datum		values[4] = {PointerGetDatum(snap), Int32GetDatum(epoch), Int32GetDatum(n_batches),
	Int32GetDatum(batch)};
	uint64		id;
	double		sums[2] = {0, 0};
	bytea	   *b;
	AeGradState gs;

	memcpy(&id, VARDATA_ANY(snap) + 16, sizeof(id));
	if (eval_what == AE_SHARD_EVAL_ERRORS)
		return AeShardQueryErrors(c->agg_rows_sql, c->d, snap, c->agg_rel);
	if (eval_what == 0)
	{
		/* no row in this batch: the aggregate of no rows is NULL */
		b = AggQuery(c->agg_step_sql, 4, types, values);
		return b ? b : AeShardMakeState(AE_GS_GRADIENT, id, epoch, batch, 0, NULL, 0, sums, 2, NULL, 0);
	}
	Assert(eval_what == AE_SHARD_EVAL_VALIDATION);
	b = AggQuery(c->agg_val_sql, 1, types, values);
	if (b == NULL)
		return AeShardMakeState(AE_GS_EVAL, id, 0, 0, 0, NULL, 0, sums, 1, NULL, 0);
	AeShardParseState(b, AE_GS_GRADIENT, &gs, c->what);
	if (gs.n_doubles != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the validation aggregate is malformed", c->what)));
	sums[0] = ae_grad_state_double(&gs, 1);		/* the reconstruction loss, as ae_shard_eval */
	return AeShardMakeState(AE_GS_EVAL, gs.snapshot, 0, 0, gs.rows, NULL, 0, sums, 1, NULL, 0);
}

/* ------------------------------------------------------------ training */

typedef struct Stats
{
	int			d;				/* -1 until a shard with rows tells */
	bool		array;			/* the inputs are one array column's elements */
	double		n,
				n_train,
				n_val;
	double	   *mean,
			   *m2,
			   *lo,
			   *hi;
} Stats;

/*
 * Add one shard's column statistics (Chan et al.'s pairwise merge).  The
 * first shard with rows sets the width and the kind of input (named columns
 * give ncols inputs; one array column as many as its arrays have, the same
 * on every shard).
 */
static void
MergeStats(Coord *c, Stats *st, const bytea *b, int ncols, const char *shard)
{
	AeGradState gs;
	int			d;
	int			kind;
	double		n_b;

	AeShardParseState(b, AE_GS_STATS, &gs, c->what);
	if (gs.n_ints != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the statistics of %s are not of this version", c->what, shard)));
	d = ae_grad_state_int(&gs, 0);
	kind = ae_grad_state_int(&gs, 1);
	if (!(kind == AE_SHARD_INPUT_COLUMNS ? d == ncols :
		  kind == AE_SHARD_INPUT_ARRAY && ncols == 1 && d >= 0 && d <= AE_MAX_WIDTH &&
		  (d > 0) == (gs.rows > 0)) ||
		gs.n_doubles != 3 + 4 * (uint32) d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the statistics of %s are not of %d columns", c->what, shard, ncols)));
	n_b = ae_grad_state_double(&gs, 0);
	if (n_b != (double) gs.rows || ae_grad_state_double(&gs, 1) + ae_grad_state_double(&gs, 2) != n_b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the row counts of %s disagree", c->what, shard)));
	if (n_b == 0)
		return;
	if (st->d < 0)
	{
		st->d = d;
		st->array = kind == AE_SHARD_INPUT_ARRAY;
		st->mean = palloc0(sizeof(double) * d);
		st->m2 = palloc0(sizeof(double) * d);
		st->lo = palloc0(sizeof(double) * d);
		st->hi = palloc0(sizeof(double) * d);
	}
	else if (d != st->d || st->array != (kind == AE_SHARD_INPUT_ARRAY))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: the rows of %s have %d %s, those before them %d %s", c->what, shard,
						d, kind == AE_SHARD_INPUT_ARRAY ? "array elements" : "columns",
						st->d, st->array ? "array elements" : "columns"),
				 errhint("Every shard must hold the same columns, and arrays of one length.")));
	for (int j = 0; j < d; j++)
	{
		double		mb = ae_grad_state_double(&gs, 3 + j);
		double		m2b = ae_grad_state_double(&gs, 3 + d + j);
		double		lob = ae_grad_state_double(&gs, 3 + 2 * d + j);
		double		hib = ae_grad_state_double(&gs, 3 + 3 * d + j);
		double		n = st->n + n_b;
		double		delta = mb - st->mean[j];

		if (st->n == 0)
		{
			st->mean[j] = mb;
			st->m2[j] = m2b;
			st->lo[j] = lob;
			st->hi[j] = hib;
			continue;
		}
		st->mean[j] += delta * n_b / n;
		st->m2[j] += m2b + delta * delta * st->n * n_b / n;
		st->lo[j] = fmin(st->lo[j], lob);
		st->hi[j] = fmax(st->hi[j], hib);
	}
	st->n += n_b;
	st->n_train += ae_grad_state_double(&gs, 1);
	st->n_val += ae_grad_state_double(&gs, 2);
}

/* Every shard's rows with a sample hash up to threshold, added up. */
static int64
CountBelow(Coord *c, int64 threshold)
{
	char		t_s[32];
	int64		count = 0;

	snprintf(t_s, sizeof(t_s), INT64_FORMAT, threshold);
	for (int i = 0; i < c->n_shards; i++)
	{
		const char *v[2] = {c->session, t_s};

		if (c->shards[i].conn)
			SendCall(c, &c->shards[i], "SELECT %s.ae_shard_count_below($1, $2)", 2, v, NULL, NULL);
	}
	PumpAll(c);
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].local)
			count += AeShardCountBelow(c->shards[i].local, threshold);
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].conn)
		{
			bytea	   *b = WaitResult(c, &c->shards[i]);
			uint64		n;

			/* a binary int8: 8 bytes in network order */
			if (VARSIZE(b) - VARHDRSZ != sizeof(n))
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("%s: the shard of %s returned an unexpected result",
								c->what, c->shards[i].name)));
			memcpy(&n, VARDATA(b), sizeof(n));
			n = pg_ntoh64(n);
			if ((int64) n < 0 || (int64) n > PG_INT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("%s: the shard of %s counted " INT64_FORMAT " rows",
								c->what, c->shards[i].name, (int64) n)));
			count += (int64) n;
			pfree(b);
		}
	return count;
}

/*
 * max_rows: the sample is the rows of the whole relation whose sample hash
 * is at most the largest threshold with no more than max_rows rows up to
 * it (ae_shard.h), the same rows however they are sharded.  The threshold
 * is found by bisection over the shards' counts (63 rounds of one small
 * call a shard: the hashes are below 2^63), then every shard keeps its
 * part; *st becomes the sample's statistics.
 */
static void
SampleRows(Coord *c, Stats *st, int64 max_rows, int ncols)
{
	int64		lo = -1,		/* no row is at or below: count 0 ≤ max_rows */
				hi = PG_INT64_MAX;	/* every row is: count st->n > max_rows */
	char		t_s[32];

	/* hi − lo is 2^63 at first: computed in uint64 */
	while ((uint64) hi - (uint64) lo > 1)
	{
		int64		mid = lo + (int64) (((uint64) hi - (uint64) lo) / 2);

		if (CountBelow(c, mid) <= max_rows)
			lo = mid;
		else
			hi = mid;
		CHECK_FOR_INTERRUPTS();
	}
	snprintf(t_s, sizeof(t_s), INT64_FORMAT, lo);
	for (int i = 0; i < c->n_shards; i++)
	{
		const char *v[2] = {c->session, t_s};

		if (c->shards[i].conn)
			SendCall(c, &c->shards[i], "SELECT %s.ae_shard_keep_below($1, $2)", 2, v, NULL, NULL);
	}
	PumpAll(c);
	memset(st, 0, sizeof(*st));
	st->d = -1;
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].local)
			MergeStats(c, st, AeShardKeepBelow(c->shards[i].local, lo), ncols, c->shards[i].name);
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].conn)
			MergeStats(c, st, WaitResult(c, &c->shards[i]), ncols, c->shards[i].name);
}

/*
 * A weights snapshot of the current parameters, with a new identity; in the
 * aggregate mode followed by the normalisation, which ae_grad_agg applies
 * to the rows.
 */
static bytea *
WeightsSnapshot(Coord *c, const AeModel *model, const AeObjective *obj, uint64 *id)
{
	int32		ints[AE_GS_ARCH_INTS(AE_MAX_HIDDEN)];
	uint32		n_ints = AE_GS_ARCH_INTS(model->arch.n_hidden);
	size_t		extra = c->norm_offset ? 2 * (size_t) c->d : 0;
	size_t		n_floats = model->n_params + extra;
	double		doubles[AE_SNAPSHOT_DOUBLES];
	uint32		n_doubles = AeShardObjectiveDoubles(obj, doubles);
	size_t		len = ae_grad_state_size(n_ints, n_doubles, (uint32) n_floats);
	bytea	   *b = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	const float *floats = model->params;

	*id = ((uint64) c->tag << 32) | ++c->step_no;
	ae_grad_state_arch_ints(&model->arch, obj->loss, ints);
	if (extra)
	{
		float	   *all = palloc_extended(sizeof(float) * n_floats, MCXT_ALLOC_HUGE);

		memcpy(all, model->params, sizeof(float) * model->n_params);
		memcpy(all + model->n_params, c->norm_offset, sizeof(float) * c->d);
		memcpy(all + model->n_params + c->d, c->norm_scale, sizeof(float) * c->d);
		floats = all;
	}
	SET_VARSIZE(b, VARHDRSZ + len);
	ae_grad_state_write((unsigned char *) VARDATA(b), AE_GS_WEIGHTS, *id, 0, 0, 0,
						ints, n_ints, doubles, n_doubles, floats, (uint32) n_floats);
	if (extra)
		pfree((void *) floats);
	return b;
}

/* A shard's answer, checked against the snapshot it was asked about. */
static void
CheckAnswer(Coord *c, const Shard *sh, const AeGradState *gs, uint64 id, uint32 n_floats_ok)
{
	if (gs->snapshot != id)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the shard of %s answered about another model snapshot",
						c->what, sh->name),
				 errdetail("Expected snapshot %016llx, got %016llx.",
						   (unsigned long long) id, (unsigned long long) gs->snapshot)));
	if (gs->n_floats != n_floats_ok && !(gs->rows == 0 && gs->n_floats == 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the shard of %s sent %u numbers where %u were expected",
						c->what, sh->name, gs->n_floats, n_floats_ok)));
}

static const char *const EvalSql = "SELECT %s.ae_shard_eval($1, $2, $3)";
static const char *const LocalSql = "SELECT %s.ae_shard_local($1, $2, $3::pg_catalog.jsonb, $4)";

/* CallAll's eval_what for a local epoch of the approximate mode */
#define CALL_LOCAL_EPOCH (-1)

/* What CallAll does with each shard's answer: len bytes at buf, a partial state. */
typedef void (*TakeAnswer) (Coord *c, const Shard *sh, const char *buf, size_t len, void *arg);

/*
 * Run one call on every shard: the remote ones first (they run while the
 * local ones compute), then hand every answer to take, in shard order
 * (sums come out the same bits whichever shard finishes first), each as
 * soon as it and those before it are in: the coordinator merges one shard
 * while the others still compute, and reads a remote answer where libpq
 * holds it, uncopied.
 */
static void
CallAll(Coord *c, const bytea *snap, int epoch, int batch, int n_batches, int eval_what,
		TakeAnswer take, void *arg)
{
	instr_time	t0,
				t1;
	char		e_s[16],
				b_s[16],
				n_s[16],
				w_s[16];
	bytea	  **local = palloc0(sizeof(bytea *) * c->n_shards);

	snprintf(e_s, sizeof(e_s), "%d", epoch);
	snprintf(b_s, sizeof(b_s), "%d", batch);
	snprintf(n_s, sizeof(n_s), "%d", n_batches);
	snprintf(w_s, sizeof(w_s), "%d", eval_what);
	INSTR_TIME_SET_CURRENT(t0);
	for (int i = 0; i < c->n_shards; i++)
	{
		Shard	   *sh = &c->shards[i];

		if (sh->conn == NULL)
			continue;
		if (eval_what == CALL_LOCAL_EPOCH)
		{
			const char *v[4] = {c->session, VARDATA(snap), c->options_text, e_s};
			int			l[4] = {0, VARSIZE(snap) - VARHDRSZ, 0, 0};
			int			f[4] = {0, 1, 0, 0};

			SendCall(c, sh, LocalSql, 4, v, l, f);
		}
		else if (eval_what == 0)
		{
			const char *v[5] = {c->session, VARDATA(snap), e_s, b_s, n_s};
			int			l[5] = {0, VARSIZE(snap) - VARHDRSZ, 0, 0, 0};
			int			f[5] = {0, 1, 0, 0, 0};

			if (!PQsendQueryPrepared(sh->conn, StepStatement, 5, v, l, f, 1))
				ConnectionLost(c, sh, "could not send to");
			sh->calling = true;
		}
		else
		{
			const char *v[3] = {c->session, VARDATA(snap), w_s};
			int			l[3] = {0, VARSIZE(snap) - VARHDRSZ, 0};
			int			f[3] = {0, 1, 0};

			SendCall(c, sh, EvalSql, 3, v, l, f);
		}
	}
	PumpAll(c);
	INSTR_TIME_SET_CURRENT(t1);
	if (eval_what == 0)
		INSTR_TIME_ACCUM_DIFF(c->t_send, t1, t0);
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].local)
			local[i] = eval_what == CALL_LOCAL_EPOCH
				? AeShardLocal(c->shards[i].local, snap, c->options, epoch)
				: eval_what == 0
				? AeShardStep(c->shards[i].local, snap, epoch, batch, n_batches)
				: AeShardEval(c->shards[i].local, snap, eval_what);
		else if (c->shards[i].agg)
			local[i] = AggCall(c, snap, epoch, batch, n_batches, eval_what);
	INSTR_TIME_SET_CURRENT(t0);
	if (eval_what == 0)
		INSTR_TIME_ACCUM_DIFF(c->t_local, t0, t1);
	for (int i = 0; i < c->n_shards;)
	{
		Shard	   *sh = &c->shards[i];

		if (sh->conn == NULL)
		{
			take(c, sh, VARDATA_ANY(local[i]), VARSIZE_ANY_EXHDR(local[i]), arg);
			pfree(local[i]);
			i++;
		}
		else if (CallDone(sh))
		{
			size_t		len;
			const char *v = CallValue(c, sh, &len);

			take(c, sh, v, len, arg);
			ClearResult(sh);
			i++;
		}
		else
			(void) PumpOnce(c, true);
	}
	pfree(local);
}

/*
 * The gradient sums of a step (AE_GS_GRADIENT answers), or of a round of
 * the approximate mode (batch 0: the shards' weights times their rows).
 */
typedef struct GradSum
{
	uint64		id;
	int			epoch;
	int			batch;
	size_t		n;				/* parameters */
	double	   *sum;			/* n; set by the first answer with rows */
	int64		rows;
	double		loss;
} GradSum;

static void
AddGradient(Coord *c, const Shard *sh, const char *buf, size_t len, void *arg)
{
	GradSum    *g = arg;
	AeGradState gs;

	AeShardParseBytes(buf, len, AE_GS_GRADIENT, &gs, c->what);
	CheckAnswer(c, sh, &gs, g->id, (uint32) g->n);
	/* ae_grad_finish knows no step: the snapshot's identity stands for it */
	if ((!sh->agg && (gs.epoch != g->epoch || gs.batch != g->batch)) || gs.n_doubles != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the shard of %s answered about another step", c->what, sh->name)));
	/* the first answer with rows sets the sum: no zeroing of megabytes on the serial path */
	if (gs.rows > 0)
		ae_grad_state_add_floats(&gs, g->sum, g->rows == 0);
	g->rows += gs.rows;
	g->loss += ae_grad_state_double(&gs, 0);
}

/*
 * The code sums of a step with the sparsity penalty (AE_GS_CODE answers):
 * per code unit over the batch's rows on every shard, then sent back as
 * the batch's own AE_GS_CODE.
 */
typedef struct CodeSum
{
	uint64		id;
	int			epoch;
	int			batch;
	int			h;				/* code units */
	double	   *sum;			/* h */
	int64		rows;
} CodeSum;

static void
AddCodeSums(Coord *c, const Shard *sh, const char *buf, size_t len, void *arg)
{
	CodeSum    *cs = arg;
	AeGradState gs;

	AeShardParseBytes(buf, len, AE_GS_CODE, &gs, c->what);
	CheckAnswer(c, sh, &gs, cs->id, 0);
	if (gs.epoch != cs->epoch || gs.batch != cs->batch || gs.n_doubles != (uint32) cs->h ||
		gs.n_ints != 0 || gs.rows > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the shard of %s sent code sums of another step or network",
						c->what, sh->name)));
	{
		int			bad = AeShardBadCodeSum(&gs);

		if (bad >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the shard of %s sent the code sum %g of unit %d over " INT64_FORMAT " rows",
							c->what, sh->name, ae_grad_state_double(&gs, bad), bad + 1,
							(int64) gs.rows)));
	}
	for (int j = 0; j < cs->h; j++)
		cs->sum[j] += ae_grad_state_double(&gs, j);
	cs->rows += gs.rows;
}

/* The validation loss sums (AE_GS_EVAL answers with one double). */
typedef struct EvalSum
{
	uint64		id;
	double		sum;
} EvalSum;

static void
AddValidation(Coord *c, const Shard *sh, const char *buf, size_t len, void *arg)
{
	EvalSum    *e = arg;
	AeGradState gs;

	AeShardParseBytes(buf, len, AE_GS_EVAL, &gs, c->what);
	CheckAnswer(c, sh, &gs, e->id, 0);
	if (gs.n_doubles != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: a shard's evaluation is malformed", c->what)));
	e->sum += ae_grad_state_double(&gs, 0);
}

/* Every row's error (AE_GS_EVAL answers with a float per row), end to end. */
typedef struct RowErrorsOut
{
	uint64		id;
	float	   *errors;
	size_t		at;
	size_t		cap;
} RowErrorsOut;

static void
TakeRowErrors(Coord *c, const Shard *sh, const char *buf, size_t len, void *arg)
{
	RowErrorsOut *r = arg;
	AeGradState gs;

	AeShardParseBytes(buf, len, AE_GS_EVAL, &gs, c->what);
	CheckAnswer(c, sh, &gs, r->id, (uint32) gs.rows);
	if (gs.n_floats != (uint32) gs.rows || r->at + gs.n_floats > r->cap)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: a shard sent the errors of rows it did not announce", c->what)));
	ae_grad_state_floats(&gs, r->errors + r->at);
	r->at += gs.n_floats;
}

/* The options the exact mode refuses (NULL: none): the objective must be a sum over rows. */
static const char *
UnsupportedOption(const AeTrainOptions *opts)
{
	const char *bad = NULL;

	if (opts->contractive > 0 && opts->contractive_samples > 0)
		bad = "contractive_samples";	/* random projections: one stream over a batch */
	else if (opts->skip_invalid)
		bad = "skip_invalid";	/* every shard reads every row, or fails naming it */
	return bad;
}

static bool
OptionsSupported(const AeTrainOptions *opts)
{
	return UnsupportedOption(opts) == NULL;
}

static void
CheckOptions(const AeTrainOptions *opts, const char *what)
{
	const char *bad = UnsupportedOption(opts);

	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: %s is not supported by sharded training", what, bad),
				 errdetail("The exact mode sums per-row gradients across shards; this option does not decompose by row.")));
}

/* The architecture of d inputs and the options' defaults (ae_trainer.c), checked. */
static void
ResolveTraining(Coord *c, AeTrainOptions *opts, int d, AeArch *arch, AeTrainConfig *cfg)
{
	AeTrainerResolve(opts, d, c->warm, arch, c->what);
	CheckOptions(opts, c->what);
	/* a row's noise is drawn from its key, which the aggregate's rows do not bring */
	if (opts->noise != AE_NOISE_NONE && c->shards[0].agg)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: noise is not supported by mode \"aggregate\"", c->what),
				 errhint("Use mode \"exact\", whose shards draw each row's noise from its key.")));
	/* the sample is kept by shards that hold rows, which the aggregate's do not */
	if (opts->max_rows > 0 && c->shards[0].agg)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: max_rows is not supported by mode \"aggregate\"", c->what),
				 errhint("Use mode \"exact\", whose shards keep the sample of the rows they hold.")));
	/* ρ̂ is a mean over the whole batch: a second query a step, which one aggregate query is not */
	if (opts->sparsity_weight > 0 && c->shards[0].agg)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: sparsity_weight is not supported by mode \"aggregate\"", c->what),
				 errhint("Use mode \"exact\", whose shards send the batch's code sums before its gradient.")));
	AeTrainerFillConfig(cfg, opts);
}

static AeBundle *
TrainSharded(Coord *c, Oid relid, char **columns, int ncols, const char *key,
			 AeTrainOptions *opts, AeTrainerReport *report)
{
	int			d = ncols;
	Stats		st = {0};
	AeArch		arch;
	AeModel		model;
	AeTrainConfig cfg;
	AeOptimizer opt;
	AeBundle   *bundle = palloc0(sizeof(AeBundle));
	char		errbuf[AE_ERRBUF_SIZE] = "";
	float	   *params,
			   *best,
			   *grad;
	double	   *gsum;
	char		seed_s[32],
				frac_s[64],
				max_s[32];
	int64		n_batches;
	double		best_loss = INFINITY;
	int			best_epoch = 0,
				bad_epochs = 0,
				epochs_run = 0;
	double		train_loss = NAN,
				val_loss = NAN;
	AeEpochStats *history;
	bytea	   *snap;
	Size		local_bytes;
	int			code_width;
	double	   *code_sum;

	/*
	 * The architecture, before any shard is opened where the width is known:
	 * one column may be an array column, whose width the shards tell.
	 */
	if (ncols > 1)
		ResolveTraining(c, opts, d, &arch, &cfg);

	/* open every shard: the rows are read once, here */
	snprintf(seed_s, sizeof(seed_s), INT64_FORMAT, opts->seed);
	snprintf(frac_s, sizeof(frac_s), "%.17g", opts->validation_fraction);
	snprintf(max_s, sizeof(max_s), INT64_FORMAT, opts->max_rows);
	{
		StringInfoData cols;

		initStringInfo(&cols);
		appendStringInfoChar(&cols, '{');
		for (int j = 0; j < ncols; j++)
		{
			appendStringInfo(&cols, "%s\"", j ? "," : "");
			for (const char *p = columns[j]; *p; p++)
			{
				if (*p == '"' || *p == '\\')
					appendStringInfoChar(&cols, '\\');
				appendStringInfoChar(&cols, *p);
			}
			appendStringInfoChar(&cols, '"');
		}
		appendStringInfoChar(&cols, '}');
		for (int i = 0; i < c->n_shards; i++)
		{
			Shard	   *sh = &c->shards[i];
			const char *v[7] = {c->session, sh->remote_rel, cols.data, key, seed_s, frac_s, max_s};	/* key NULL: SQL NULL */

			if (sh->conn)
				SendCall(c, sh, "SELECT %s.ae_shard_open($1, $2::pg_catalog.regclass, $3, $4, $5, $6, $7)",
						 7, v, NULL, NULL);
		}
		PumpAll(c);
	}
	st.d = -1;
	local_bytes = 0;
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].agg)
			MergeStats(c, &st, AggOpen(c, c->shards[i].relid, columns, ncols, key, opts->seed,
									   opts->validation_fraction), ncols, c->shards[i].name);
		else if (c->shards[i].conn == NULL)
		{
			/* the local partitions' rows together within autoenc.max_train_memory */
			c->shards[i].local = AeShardOpen(CurrentMemoryContext, c->shards[i].relid, columns,
											 ncols, key, opts->seed, opts->validation_fraction,
											 opts->max_rows, local_bytes);
			local_bytes += AeShardBytes(c->shards[i].local);
			MergeStats(c, &st, AeShardStats(c->shards[i].local), ncols, c->shards[i].name);
		}
	for (int i = 0; i < c->n_shards; i++)
		if (c->shards[i].conn)
		{
			MergeStats(c, &st, WaitResult(c, &c->shards[i]), ncols, c->shards[i].name);
			c->shards[i].open = true;
		}
	if (opts->max_rows > 0 && st.n > opts->max_rows)
		SampleRows(c, &st, opts->max_rows, ncols);
	if (st.n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: at least 2 rows are needed, got %.0f", c->what, st.n)));
	if (st.n_train < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: no row falls into the training split", c->what),
				 errhint("Lower validation_fraction.")));
	/* the width is the shards' (an array column's length) */
	d = st.d;
	bundle->n_columns = st.array ? 0 : ncols;
	if (ncols == 1)
		ResolveTraining(c, opts, d, &arch, &cfg);
	{
		/* the network, its optimiser and the local partitions' rows, as ae_train counts them */
		double		need = (double) AeTrainerFixedBytes(opts, &arch) + (double) local_bytes;

		if (need > (double) AeTrainerBudgetBytes())
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("%s: the model needs more memory than autoenc.max_train_memory allows on the coordinator",
							c->what),
					 errdetail("The network, its optimiser and the rows of the local partitions need about %.0f kB; autoenc.max_train_memory is %d kB.",
							   ceil(need / 1024.0), ae_max_train_memory_kb),
					 errhint("Raise autoenc.max_train_memory, or train a smaller network.")));
	}
	if (c->warm)
	{
		if (c->warm->encoding_json)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s: the stored model is a mixed-type model, which does not train across shards",
							c->what)));
		AeTrainerCheckWarmColumns(c->warm, bundle->n_columns, c->colnames->data,
								  c->colnames->len, c->what);
	}

	/* the normalisation of all rows, as ae_norm_fit computes it on one server */
	bundle->norm_method = (AeNormMethod) opts->normalize;
	bundle->norm_offset = palloc(sizeof(float) * d);
	bundle->norm_scale = palloc(sizeof(float) * d);
	bundle->feature_mean = palloc(sizeof(float) * d);
	for (int j = 0; j < d; j++)
	{
		double		off = 0,
					sc = 1;

		if (bundle->norm_method == AE_NORM_ZSCORE)
		{
			off = st.mean[j];
			sc = sqrt(st.m2[j] / st.n);
		}
		else if (bundle->norm_method == AE_NORM_MINMAX)
		{
			off = st.lo[j];
			sc = st.hi[j] - st.lo[j];
		}
		if (!((float) sc > 0) || !isfinite((float) sc))
			sc = 1;
		bundle->norm_offset[j] = (float) off;
		bundle->norm_scale[j] = (float) sc;
		bundle->feature_mean[j] = (float) st.mean[j];
		if (c->warm)
		{
			/* a warm start keeps the stored normalisation, as ae_train's does */
			bundle->norm_offset[j] = c->warm->norm_offset[j];
			bundle->norm_scale[j] = c->warm->norm_scale[j];
		}
	}
	{
		ArrayType  *off_a;
		Datum	   *od = palloc(sizeof(Datum) * d);
		Datum	   *sd = palloc(sizeof(Datum) * d);
		ArrayType  *sc_a;
		char	   *off_s,
				   *sc_s;

		for (int j = 0; j < d; j++)
		{
			od[j] = Float4GetDatum(bundle->norm_offset[j]);
			sd[j] = Float4GetDatum(bundle->norm_scale[j]);
		}
		off_a = construct_array(od, d, FLOAT4OID, 4, true, TYPALIGN_INT);
		sc_a = construct_array(sd, d, FLOAT4OID, 4, true, TYPALIGN_INT);
		/* float4out writes the shortest text that reads back to the same float */
		off_s = OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(off_a));
		sc_s = OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(sc_a));
		for (int i = 0; i < c->n_shards; i++)
		{
			Shard	   *sh = &c->shards[i];
			const char *v[3] = {c->session, off_s, sc_s};

			if (sh->conn)
				SendCall(c, sh, "SELECT %s.ae_shard_normalize($1, $2::pg_catalog.float4[], $3::pg_catalog.float4[])",
						 3, v, NULL, NULL);
			else if (sh->local)
				AeShardNormalize(sh->local, bundle->norm_offset, bundle->norm_scale, d);
		}
		PumpAll(c);
		for (int i = 0; i < c->n_shards; i++)
			if (c->shards[i].conn)
				(void) WaitResult(c, &c->shards[i]);
		if (c->shards[0].agg)
		{
			/* no shard holds rows to normalise: the snapshots carry it */
			c->norm_offset = bundle->norm_offset;
			c->norm_scale = bundle->norm_scale;
		}
	}

	/* the network and the optimiser, as ae_train sets them up */
	params = palloc_extended(sizeof(float) * Max(ae_arch_param_count(&arch), 1), MCXT_ALLOC_HUGE);
	ae_check_status(ae_model_bind(&model, &arch, params, errbuf), errbuf, c->what);
	ae_model_init_weights(&model, (uint64_t) opts->seed);
	if (c->warm)
		memcpy(params, c->warm->params, sizeof(float) * model.n_params);
	ae_check_status(ae_train_config_validate(&cfg, &model, errbuf), errbuf, c->what);
	ae_check_status(ae_optim_create(&opt, &cfg.optim, model.n_params, &ae_palloc_allocator),
					NULL, c->what);
	best = palloc_extended(sizeof(float) * Max(model.n_params, 1), MCXT_ALLOC_HUGE);
	grad = palloc_extended(sizeof(float) * Max(model.n_params, 1), MCXT_ALLOC_HUGE);
	gsum = palloc_extended(sizeof(double) * Max(model.n_params, 1), MCXT_ALLOC_HUGE);
	memcpy(best, params, sizeof(float) * model.n_params);
	history = palloc0(sizeof(AeEpochStats) * cfg.epochs);
	code_width = model.dims[arch.code_layer + 1];
	code_sum = cfg.objective.sparsity_weight > 0 && !c->approximate
		? palloc(sizeof(double) * code_width) : NULL;

	n_batches = Max(1, (int64) floor(st.n_train / cfg.batch_size + 0.5));
	if (n_batches > PG_INT32_MAX / 2)
		n_batches = PG_INT32_MAX / 2;

	for (int epoch = 1; epoch <= cfg.epochs; epoch++)
	{
		instr_time	t0,
					t1;
		double		loss_sum = 0;
		double		monitor;

		INSTR_TIME_SET_CURRENT(t0);
		if (c->approximate)
		{
			/* every shard trains an epoch on its own rows; the weights are averaged by rows */
			GradSum		g = {0, epoch, 0, model.n_params, gsum, 0, 0};

			snap = WeightsSnapshot(c, &model, &cfg.objective, &g.id);
			CallAll(c, snap, epoch, 0, 0, CALL_LOCAL_EPOCH, AddGradient, &g);
			pfree(snap);
			loss_sum = g.loss;
			if (g.rows > 0)
				ae_grad_mean_floats(gsum, model.n_params, (double) g.rows, params);
		}
		else
		{
			for (int b = 1; b <= n_batches; b++)
			{
				GradSum		g = {0, epoch, b, model.n_params, gsum, 0, 0};
				instr_time	p0,
							p1;

				INSTR_TIME_SET_CURRENT(p0);
				snap = WeightsSnapshot(c, &model, &cfg.objective, &g.id);
				INSTR_TIME_SET_CURRENT(p1);
				INSTR_TIME_ACCUM_DIFF(c->t_snapshot, p1, p0);
				if (code_sum)
				{
					/* the sparsity penalty: the batch's code sums first, then its gradient */
					CodeSum		cs = {g.id, epoch, b, code_width, code_sum, 0};

					memset(code_sum, 0, sizeof(double) * code_width);
					CallAll(c, snap, epoch, b, (int) n_batches, 0, AddCodeSums, &cs);
					pfree(snap);
					if (cs.rows == 0)
						continue;	/* no row fell into this batch anywhere */
					snap = AeShardMakeState(AE_GS_CODE, g.id, epoch, b, cs.rows, NULL, 0,
											code_sum, (uint32) code_width, NULL, 0);
				}
				CallAll(c, snap, epoch, b, (int) n_batches, 0, AddGradient, &g);
				INSTR_TIME_SET_CURRENT(p0);
				INSTR_TIME_ACCUM_DIFF(c->t_calls, p0, p1);
				pfree(snap);
				if (g.rows == 0)
				{
					INSTR_TIME_SET_CURRENT(p1);
					INSTR_TIME_ACCUM_DIFF(c->t_merge, p1, p0);
					continue;		/* no row fell into this batch anywhere */
				}
				ae_grad_mean_floats(gsum, model.n_params, (double) g.rows, grad);
				if (!isfinite(g.loss))
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("%s: the loss became non-finite in epoch %d, batch %d", c->what, epoch, b)));
				ae_optim_step(&opt, params, grad, NULL);
				INSTR_TIME_SET_CURRENT(p1);
				INSTR_TIME_ACCUM_DIFF(c->t_merge, p1, p0);
				loss_sum += g.loss;
				CHECK_FOR_INTERRUPTS();
			}
		}
		train_loss = loss_sum / st.n_train;
		val_loss = NAN;
		if (st.n_val > 0)
		{
			EvalSum		e = {0, 0};

			snap = WeightsSnapshot(c, &model, &cfg.objective, &e.id);
			CallAll(c, snap, 0, 0, 0, AE_SHARD_EVAL_VALIDATION, AddValidation, &e);
			pfree(snap);
			val_loss = e.sum / st.n_val;
		}
		ae_optim_epoch_end(&opt);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_SUBTRACT(t1, t0);
		history[epoch - 1].epoch = epoch;
		history[epoch - 1].train_loss = train_loss;
		history[epoch - 1].val_loss = val_loss;
		history[epoch - 1].seconds = INSTR_TIME_GET_DOUBLE(t1);
		epochs_run = epoch;
		if (opts->verbose)
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train_loss %.6g, val_loss %.6g (%d shards, %.3f s)",
							epoch, cfg.epochs, train_loss, val_loss, c->n_shards,
							INSTR_TIME_GET_DOUBLE(t1)),
					 errdetail("So far per step, in ms: snapshot %.3f, calls %.3f (sending %.3f, local shards %.3f, then waiting and adding up the answers), mean and optimiser %.3f.",
							   1e3 * INSTR_TIME_GET_DOUBLE(c->t_snapshot) / (epoch * n_batches),
							   1e3 * INSTR_TIME_GET_DOUBLE(c->t_calls) / (epoch * n_batches),
							   1e3 * INSTR_TIME_GET_DOUBLE(c->t_send) / (epoch * n_batches),
							   1e3 * INSTR_TIME_GET_DOUBLE(c->t_local) / (epoch * n_batches),
							   1e3 * INSTR_TIME_GET_DOUBLE(c->t_merge) / (epoch * n_batches))));

		/* early stopping exactly as ae_train: strict improvements only */
		monitor = st.n_val > 0 ? val_loss : train_loss;
		if (monitor < best_loss)
		{
			best_loss = monitor;
			best_epoch = epoch;
			bad_epochs = 0;
			memcpy(best, params, sizeof(float) * model.n_params);
		}
		else if (cfg.patience > 0 && ++bad_epochs >= cfg.patience)
			break;
	}
	if (cfg.patience > 0 && best_epoch > 0)
		memcpy(params, best, sizeof(float) * model.n_params);
	else
		best_epoch = epochs_run;
	ae_optim_destroy(&opt, &ae_palloc_allocator);

	/* the error distribution over every row of every shard */
	{
		RowErrorsOut r = {0, palloc_extended(sizeof(float) * (size_t) st.n, MCXT_ALLOC_HUGE), 0,
		(size_t) st.n};
		double		probs[AE_BUNDLE_N_QUANTILES + 1];
		double		q[AE_BUNDLE_N_QUANTILES + 1];

		snap = WeightsSnapshot(c, &model, &cfg.objective, &r.id);
		CallAll(c, snap, 0, 0, 0, AE_SHARD_EVAL_ERRORS, TakeRowErrors, &r);
		if (r.at != (size_t) st.n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the shards sent errors of %zu rows, not %.0f", c->what, r.at, st.n)));
		for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
			probs[i] = i / (double) (AE_BUNDLE_N_QUANTILES - 1);
		probs[AE_BUNDLE_N_QUANTILES] = 1.0 - opts->contamination;
		ae_quantiles(r.errors, r.at, probs, AE_BUNDLE_N_QUANTILES + 1, q);
		memcpy(bundle->quantiles, q, sizeof(double) * AE_BUNDLE_N_QUANTILES);
		bundle->threshold = q[AE_BUNDLE_N_QUANTILES];
		bundle->contamination = opts->contamination;
	}

	bundle->arch = arch;
	bundle->params = params;
	bundle->n_rows = (int64) st.n;
	bundle->epochs_run = epochs_run;
	bundle->train_loss = history[best_epoch - 1].train_loss;
	bundle->val_loss = st.n_val > 0 ? history[best_epoch - 1].val_loss : NAN;
	bundle->n_history = epochs_run;
	bundle->history = history;
	opts->data = AE_DATA_MEMORY;
	opts->shuffle_buffer = 0;
	bundle->config_json = AeOptionsToJson(opts);

	report->rows_used = (int64) st.n;
	report->epochs_run = epochs_run;
	report->train_loss = bundle->train_loss;
	report->val_loss = bundle->val_loss;
	return bundle;
}

/* Column names from a text[]; *colbuf gets them end to end, NUL-terminated. */
static char **
ColumnNames(ArrayType *arr, int *ncols, StringInfo colbuf, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **columns;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, ncols);
	if (*ncols < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: columns must name at least one column", what)));
	columns = palloc(sizeof(char *) * *ncols);
	initStringInfo(colbuf);
	for (int j = 0; j < *ncols; j++)
	{
		if (nulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: column names must not be NULL", what)));
		columns[j] = TextDatumGetCString(elems[j]);
		appendBinaryStringInfo(colbuf, columns[j], strlen(columns[j]) + 1);
	}
	return columns;
}

/*
 * Train over the shards of relid (cluster NULL) or of a PL/Proxy cluster;
 * the bundle and everything else in CurrentMemoryContext.  Every connection
 * is closed on return and on error.
 */
static AeBundle *
CoordTrain(Oid relid, const char *cluster, const char *remote_rel, ArrayType *colarr,
		   const char *key, AeTrainOptions *opts, Jsonb *options, bool approximate,
		   const char *agg_nsp, const AeBundle *warm, const char *what, AeTrainerReport *report,
		   int *n_shards)
{
	Coord		coord = {0};
	AeBundle   *volatile bundle = NULL;
	StringInfoData colbuf;
	int			ncols;
	char	  **columns;

	coord.what = what;
	coord.approximate = approximate;
	coord.warm = warm;
	coord.options = options;
	coord.options_text = options ? JsonbToCString(NULL, &options->root, VARSIZE(options)) : "{}";
	columns = ColumnNames(colarr, &ncols, &colbuf, what);
	coord.colnames = &colbuf;
	coord.tag = (uint32) (pg_prng_uint64(&pg_global_prng_state) >> 32);
	coord.session = psprintf("autoenc:%d:%08x", MyProcPid, coord.tag);
	AeShardRetainHeap(true);
	PG_TRY();
	{
		if (agg_nsp)
		{
			/* the aggregate mode: one "shard", the relation's queries on this server */
			coord.nsp = agg_nsp;
			coord.n_shards = 1;
			coord.shards = palloc0(sizeof(Shard));
			coord.shards[0].relid = relid;
			coord.shards[0].agg = true;
			coord.shards[0].name = "the aggregate queries";
		}
		else if (cluster)
			CollectPlproxyShards(&coord, cluster, remote_rel);
		else
			CollectShards(&coord, relid);
		MakeWaitSet(&coord);
		bundle = TrainSharded(&coord, relid, columns, ncols, key, opts, report);
		/* a model of named columns knows them; one of an array column reads arrays */
		if (bundle->n_columns > 0)
		{
			bundle->columns = colbuf.data;
			bundle->columns_len = colbuf.len;
		}
		CloseShards(&coord, true);
	}
	PG_FINALLY();
	{
		CloseShards(&coord, false);
		AeShardRetainHeap(false);
	}
	PG_END_TRY();
	*n_shards = coord.n_shards;
	return bundle;
}

bool
AeCoordWantsShards(Oid relid, const AeTrainOptions *opts)
{
	bool		foreign = false;
	ListCell   *lc;

	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE || !OptionsSupported(opts))
		return false;
	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
		foreign |= get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE;
	return foreign;
}

AeBundle *
AeCoordTrainRelation(Oid relid, ArrayType *columns, AeTrainOptions *opts, const AeBundle *warm,
					 const char *what, AeTrainerReport *report)
{
	int			n_shards;

	return CoordTrain(relid, NULL, NULL, columns, NULL, opts, NULL, false, NULL, warm, what,
					  report, &n_shards);
}

/*
 * The shared body of ae_train_sharded (relid valid, cluster NULL) and
 * ae_train_plproxy (cluster and relation names); the arguments from arg on
 * are columns, key (NULL: rows keyed by their values), options.
 */
static Datum
TrainEntry(FunctionCallInfo fcinfo, Oid relid, const char *cluster, const char *remote_rel,
		   int arg)
{
	char	   *name;
	char	   *key = NULL;
	char	   *what;
	Jsonb	   *options;
	bool		approximate = false;
	const char *agg_nsp = NULL;
	AeTrainOptions opts;
	AeBundle   *warm;
	TupleDesc	tupdesc;
	MemoryContext train_cxt;
	MemoryContext old_cxt;
	AeBundle   *bundle;
	AeTrainerReport report;
	int			version;
	int			n_shards;
	instr_time	start,
				elapsed;
	Datum		values[N_RESULT_COLUMNS];
	bool		rnulls[N_RESULT_COLUMNS] = {false};

	INSTR_TIME_SET_CURRENT(start);
	for (int i = 0; i <= arg; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only the key and the options may be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(arg + 1))
		key = text_to_cstring(PG_GETARG_TEXT_PP(arg + 1));
	options = PG_ARGISNULL(arg + 2) ? NULL : PG_GETARG_JSONB_P(arg + 2);
	AeOptionsFromJsonbNamed(&opts, options);
	what = psprintf("cannot train model \"%s\"", ae_model_name_display(name));
	if (!PG_ARGISNULL(arg + 3))
	{
		char	   *mode = text_to_cstring(PG_GETARG_TEXT_PP(arg + 3));

		if (strcmp(mode, "approximate") == 0)
			approximate = true;
		else if (strcmp(mode, "aggregate") == 0 && cluster == NULL)
		{
			/* its queries name autoenc's functions in the schema this one is in */
			agg_nsp = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
			if (key == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: mode \"aggregate\" needs a key column", what),
						 errhint("Name the column whose hash decides each row's batch.")));
		}
		else if (strcmp(mode, "exact") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: mode must be %s, not \"%s\"", what,
							cluster ? "\"exact\" or \"approximate\"" : "\"exact\", \"approximate\" or \"aggregate\"",
							mode)));
	}
	/* before any connection is made */
	CheckOptions(&opts, what);
	if (approximate)
		ereport(NOTICE,
				(errmsg("approximate mode: every shard trains an epoch on its own rows and the models are averaged"),
				 errdetail("The result depends on how the rows are sharded and is not the model of a training on one server.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != N_RESULT_COLUMNS)
		elog(ERROR, "ae_train_sharded() has an unexpected result type. Please report a bug.");
	tupdesc = BlessTupleDesc(tupdesc);

	(void) ae_catalog_check_store(name);
	train_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc sharded training",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(train_cxt);
	/* a warm start continues from the stored model, as ae_train's does */
	warm = opts.warm_start ? ae_catalog_fetch(name, AE_ACCESS_STORE, NULL) : NULL;
	bundle = CoordTrain(relid, cluster, remote_rel, PG_GETARG_ARRAYTYPE_P(arg), key, &opts,
						options, approximate, agg_nsp, warm, what, &report, &n_shards);
	version = ae_catalog_store(name, bundle, relid);	/* InvalidOid: no local source */
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(train_cxt);

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	values[0] = Int32GetDatum(version);
	values[1] = Int64GetDatum(report.rows_used);
	values[2] = Int32GetDatum(report.epochs_run);
	values[3] = Float8GetDatum(report.train_loss);
	values[4] = Float8GetDatum(report.val_loss);
	rnulls[4] = isnan(report.val_loss);
	values[5] = Float8GetDatum(INSTR_TIME_GET_DOUBLE(elapsed));
	values[6] = Int32GetDatum(n_shards);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, rnulls)));
}

PG_FUNCTION_INFO_V1(ae_train_sharded);

/* ae_train_sharded(model text, relation regclass, columns text[], key text, options jsonb) */
Datum
ae_train_sharded(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be NULL")));
	return TrainEntry(fcinfo, PG_GETARG_OID(1), NULL, NULL, 2);
}

PG_FUNCTION_INFO_V1(ae_train_plproxy);

/* ae_train_plproxy(model text, cluster text, relation text, columns text[], key text, options jsonb) */
Datum
ae_train_plproxy(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cluster and relation must not be NULL")));
	return TrainEntry(fcinfo, InvalidOid, text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  text_to_cstring(PG_GETARG_TEXT_PP(2)), 3);
}
