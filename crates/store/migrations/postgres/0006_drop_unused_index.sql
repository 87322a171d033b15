-- No query looks access tokens up by family (a revoked family is found in refresh_tokens),
-- and every opaque token paid for keeping this index on insert.
DROP INDEX IF EXISTS access_tokens_family;
