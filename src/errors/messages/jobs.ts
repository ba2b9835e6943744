/** Messages for the job queue and workers (src/jobs, src/bank/jobs.ts). */
export const jobsMessages = {
  'jobs.no-engine': (d: { kind: string }) =>
    `this worker has no engine for "${d.kind}" jobs yet, so the job was not run. It needs a zipbank build whose engine can run ${d.kind} jobs.`,
  'jobs.unknown-kind': (d: { kind: string; known: string }) =>
    `no handler for job kind "${d.kind}" (this worker runs: ${d.known}).`,
  'jobs.not-found': (d: { id: string }) => `there is no job ${d.id}; it may have been removed.`,
  'jobs.cancelled': (d: { id: string }) => `job ${d.id} was cancelled.`,
  'jobs.lease-lost': (d: { id: string; workerId: string }) =>
    `worker ${d.workerId} lost its claim on job ${d.id} (its lease expired and another worker may have taken it); this worker stopped running it.`,
  'jobs.lease-expired': (_d: Record<string, never>) =>
    `the worker running this job stopped answering (its lease expired); the job is retried on another worker if attempts remain.`,
  'jobs.shutdown': (d: { workerId: string }) =>
    `worker ${d.workerId} is shutting down; the job goes back to the queue without losing an attempt.`,
  'jobs.invalid-option': (d: { option: string; value: unknown; expected: string }) =>
    `${d.option} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}.`,
};
