/* sokhund_bm25(fts, dfs, w0, w1, ...): FTS5's bm25 with the document frequencies given by the caller.

FTS5's own bm25() counts, on its first row, the documents of the WHOLE index matching each phrase of the
query (xQueryPhrase): at a million listings that is 30-120 ms for a common word or a phrase, even when only
the newest few thousand matches are ranked. This function computes the same score (k1 = 1.2, b = 0.75,
column weights w0, w1 ..., document length over all columns) from per-phrase entries in ``dfs``, one per
phrase of the MATCH expression, separated by commas:

  ""      count the phrase's documents as bm25() does (exact);
  "z"     the phrase adds nothing (filter tokens in a weight-0 column, NOT terms: bm25 adds 0 for them too);
  "0.37"  the fraction of documents holding the phrase (an estimate from a sample), times the row count.

When the number of entries is not the number of phrases, every phrase is counted as bm25() does. Returns
-score, as bm25() does. Built and registered by indexer/fts_rank.py; nothing else links against it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

typedef struct {
  int nPhrase;
  double avgdl;
  double *aIDF;
  double *aFreq;
} RankData;

static int countHit(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx) {
  (void)api;
  (void)fts;
  (*(sqlite3_int64 *)ctx)++;
  return SQLITE_OK;
}

static double idfOf(double nRow, double nHit) {
  double idf = log((nRow - nHit + 0.5) / (nHit + 0.5));
  return idf <= 0.0 ? 1e-6 : idf; /* as bm25(): a word in more than half the documents still counts a little */
}

/* The entries of ``dfs``: how many there are, and each one's text in ``out`` (NULL: count exactly). */
static int splitEntries(const char *dfs, int nPhrase, const char **out) {
  int n = 0;
  const char *p = dfs ? dfs : "";
  for (;;) {
    if (n < nPhrase) out[n] = p;
    n++;
    const char *comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  return n;
}

static int rankData(const Fts5ExtensionApi *api, Fts5Context *fts, const char *dfs, RankData **pp) {
  RankData *p = (RankData *)api->xGetAuxdata(fts, 0);
  if (p) {
    *pp = p;
    return SQLITE_OK;
  }
  int nPhrase = api->xPhraseCount(fts);
  p = (RankData *)sqlite3_malloc64(sizeof(RankData) + sizeof(double) * 2 * (nPhrase + 1));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(RankData) + sizeof(double) * 2 * (nPhrase + 1));
  p->nPhrase = nPhrase;
  p->aIDF = (double *)&p[1];
  p->aFreq = &p->aIDF[nPhrase + 1];
  sqlite3_int64 nRow = 0, nToken = 0;
  int rc = api->xRowCount(fts, &nRow);
  if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &nToken);
  p->avgdl = nRow ? (double)nToken / (double)nRow : 1.0;
  const char **entry = (const char **)sqlite3_malloc64(sizeof(char *) * (nPhrase + 1));
  if (!entry) rc = SQLITE_NOMEM;
  int given = rc == SQLITE_OK ? splitEntries(dfs, nPhrase, entry) == nPhrase : 0;
  for (int i = 0; rc == SQLITE_OK && i < nPhrase; i++) {
    const char *e = given ? entry[i] : ",";
    if (*e == 'z') {
      p->aIDF[i] = 0.0;
    } else if (*e == ',' || *e == '\0') {
      sqlite3_int64 nHit = 0;
      rc = api->xQueryPhrase(fts, i, (void *)&nHit, countHit);
      p->aIDF[i] = idfOf((double)nRow, (double)nHit);
    } else {
      p->aIDF[i] = idfOf((double)nRow, strtod(e, NULL) * (double)nRow);
    }
  }
  sqlite3_free(entry);
  if (rc == SQLITE_OK) rc = api->xSetAuxdata(fts, p, sqlite3_free);
  if (rc != SQLITE_OK) {
    sqlite3_free(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

static void bm25Given(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                      sqlite3_value **apVal) {
  const double k1 = 1.2, b = 0.75;
  RankData *p = 0;
  const char *dfs = nVal > 0 ? (const char *)sqlite3_value_text(apVal[0]) : "";
  int rc = rankData(api, fts, dfs, &p);
  int nInst = 0;
  if (rc == SQLITE_OK) {
    memset(p->aFreq, 0, sizeof(double) * p->nPhrase);
    rc = api->xInstCount(fts, &nInst);
  }
  for (int i = 0; rc == SQLITE_OK && i < nInst; i++) {
    int ip, ic, io;
    rc = api->xInst(fts, i, &ip, &ic, &io);
    if (rc == SQLITE_OK) p->aFreq[ip] += (nVal > ic + 1) ? sqlite3_value_double(apVal[ic + 1]) : 1.0;
  }
  int nTok = 0;
  if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &nTok);
  double score = 0.0;
  for (int i = 0; rc == SQLITE_OK && i < p->nPhrase; i++) {
    double f = p->aFreq[i];
    score += p->aIDF[i] * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * (double)nTok / p->avgdl)));
  }
  if (rc == SQLITE_OK) {
    sqlite3_result_double(ctx, -1.0 * score);
  } else {
    sqlite3_result_error_code(ctx, rc);
  }
}

static fts5_api *ftsApi(sqlite3 *db) {
  fts5_api *api = 0;
  sqlite3_stmt *stmt = 0;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, 0) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, (void *)&api, "fts5_api_ptr", 0);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  return api;
}

/* Entry point, run for every new connection (sqlite3_auto_extension). */
int sokhund_rank_init(sqlite3 *db, char **err, const sqlite3_api_routines *routines) {
  (void)err;
  SQLITE_EXTENSION_INIT2(routines);
  fts5_api *api = ftsApi(db);
  if (!api || api->iVersion < 2) return SQLITE_OK; /* no FTS5: the caller falls back to bm25() */
  return api->xCreateFunction(api, "sokhund_bm25", 0, bm25Given, 0);
}
