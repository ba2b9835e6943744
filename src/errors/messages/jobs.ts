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
  // The engine's render job (src/jobs/engine).
  'render-job.no-render': (d: { job: string }) => `job ${d.job} names no render, so there is nothing to draw.`,
  'render-job.not-found': (d: { id: string }) => `render ${d.id} does not exist any more (it was deleted), so it was not drawn.`,
  'render-job.not-runnable': (d: { id: string; status: string }) => `render ${d.id} is ${d.status}; it is not drawn again.`,
  'render-job.no-loras': (d: { id: string }) => `render ${d.id} names no subject or no style LoRA; a zip needs one of each.`,
  'render-job.lora-gone': (d: { role: string; name: string; status: string }) =>
    d.status === 'deleted'
      ? `the ${d.role} LoRA of this render was deleted from the bank, so the render cannot be drawn.`
      : `the ${d.role} LoRA "${d.name}" is ${d.status} in the bank, so the render cannot be drawn.`,
  'render-job.lora-file-missing': (d: { role: string; name: string; key: string }) =>
    `the file of the ${d.role} LoRA "${d.name}" is missing from storage (${d.key}); an operator must restore it or remove the LoRA.`,
  'render-job.base-mismatch': (d: { subject: string; subjectBase: string; style: string; styleBase: string }) =>
    `the subject "${d.subject}" is a ${d.subjectBase} LoRA and the style "${d.style}" a ${d.styleBase} one; both must be for the same base model.`,
  'render-job.no-model': (d: { family: string; configured: readonly string[] }) =>
    `this worker has no ${d.family} model, so it cannot draw with ${d.family} LoRAs` +
    (d.configured.length ? ` (it has: ${d.configured.join(', ')})` : '') +
    `. Set ZIPBANK_MODELS, e.g. ZIPBANK_MODELS=${d.family}=/models/${d.family}.`,
  'render-job.method': (d: { method: string }) => `unknown zip method "${d.method}"; use ziplora or direct.`,
  'render-job.zip-claim-lost': (d: { zip: string }) =>
    `another worker took over zip ${d.zip} while this one was still making it (this worker stalled); the render is retried.`,
};
