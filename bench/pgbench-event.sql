-- pgbench's equivalent of one engine event (npm run bench runs it against the bench's database):
-- lock the case row, update its JSON document and version, insert one journal row, commit.
-- bench_case_ids maps 1..:cases to the bench's case ids (pgbench draws integers).
\set n random(1, :cases)
BEGIN;
SELECT c.version FROM cases c WHERE c.id = (SELECT id FROM bench_case_ids WHERE n = :n) FOR UPDATE \gset
UPDATE cases SET state = jsonb_set(jsonb_set(state, '{caseFile,lastNote}', to_jsonb(:n)), '{version}', to_jsonb(version + 1)),
  version = version + 1, updated_at = now()
  WHERE id = (SELECT id FROM bench_case_ids WHERE n = :n);
INSERT INTO journal (case_id, version, idx, type, actor_id, actor_role, reason, data, at)
  SELECT id, :version + 1, 0, 'bench.pgbench', 'bench', 'agent', NULL, jsonb_build_object('n', :n), now()
  FROM bench_case_ids WHERE n = :n;
END;
