-- Oban's PostgreSQL schema at migration version 14, for schema public.
--
-- Derived by hand from oban-bg/oban v2.23.0 (commit
-- 2939e3134d0812195fbfcfe9a8e8d4bbd30bb23b, v2.23.0-51-g2939e313),
-- lib/oban/migrations/postgres.ex and postgres/v01.ex .. v14.ex, applied in
-- order as `Oban.Migration.up(version: 14)` does on an empty database: the
-- Ecto types become :bigserial -> bigserial, :text -> text, :map -> jsonb,
-- {:array, :map} -> jsonb[], {:array, :text} -> text[], :utc_datetime_usec
-- -> timestamp without time zone (UTC values), and Ecto's default index
-- names are <table>_<columns>_index. Indexes and constraints that a later
-- migration drops (v02's scheduled_at index, v05's, v07's attempted_at
-- index, v10's priority_range replaced in v12) are left out; so are the
-- v01/v08 notify trigger and function, which v12 drops. v11's oban_peers is
-- UNLOGGED (the migration's default). No real Oban (Elixir) ran: Oban
-- cannot be installed here.
--
-- Oban Pro's oban_producers table (where Pro keeps queue pausing and
-- producers) is not part of open-source Oban and is not created.

CREATE TYPE public.oban_job_state AS ENUM (
  'available',
  'suspended',
  'scheduled',
  'executing',
  'retryable',
  'completed',
  'discarded',
  'cancelled'
);

CREATE TABLE public.oban_jobs (
  id bigserial PRIMARY KEY,
  state public.oban_job_state NOT NULL DEFAULT 'available',
  queue text NOT NULL DEFAULT 'default',
  worker text NOT NULL,
  args jsonb NOT NULL DEFAULT '{}',
  errors jsonb[] NOT NULL DEFAULT ARRAY[]::jsonb[],
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 20,
  inserted_at timestamp without time zone NOT NULL DEFAULT timezone('UTC', now()),
  scheduled_at timestamp without time zone NOT NULL DEFAULT timezone('UTC', now()),
  attempted_at timestamp without time zone,
  completed_at timestamp without time zone,
  attempted_by text[],
  discarded_at timestamp without time zone,
  priority integer NOT NULL DEFAULT 0,
  tags text[] DEFAULT ARRAY[]::text[],
  meta jsonb DEFAULT '{}',
  cancelled_at timestamp without time zone,
  CONSTRAINT worker_length CHECK (char_length(worker) > 0 AND char_length(worker) < 128),
  CONSTRAINT queue_length CHECK (char_length(queue) > 0 AND char_length(queue) < 128),
  CONSTRAINT positive_max_attempts CHECK (max_attempts > 0),
  CONSTRAINT attempt_range CHECK (attempt BETWEEN 0 AND max_attempts)
);

-- v12: NOT VALID, as Ecto's `validate: false`.
ALTER TABLE public.oban_jobs ADD CONSTRAINT non_negative_priority CHECK (priority >= 0) NOT VALID;

-- v08/v09: the fetching index (Engines.Basic.fetch_jobs, staging, counts).
CREATE INDEX oban_jobs_state_queue_priority_scheduled_at_id_index
  ON public.oban_jobs (state, queue, priority, scheduled_at, id);
-- v10: unique checks.
CREATE INDEX oban_jobs_args_index ON public.oban_jobs USING gin (args);
CREATE INDEX oban_jobs_meta_index ON public.oban_jobs USING gin (meta);
-- v13: pruning of cancelled and discarded jobs.
CREATE INDEX oban_jobs_state_cancelled_at_index ON public.oban_jobs (state, cancelled_at);
CREATE INDEX oban_jobs_state_discarded_at_index ON public.oban_jobs (state, discarded_at);

-- v11: leadership (Oban.Peers.Database); one row, the leader's.
CREATE UNLOGGED TABLE public.oban_peers (
  name text NOT NULL PRIMARY KEY,
  node text NOT NULL,
  started_at timestamp without time zone NOT NULL,
  expires_at timestamp without time zone NOT NULL
);

-- Oban.Migrations.Postgres.record_version.
COMMENT ON TABLE public.oban_jobs IS '14';
