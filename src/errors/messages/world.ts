/** Messages for the procedural world (src/world): unknown ids and invalid scene values. */
export const worldMessages = {
  'world.unknown': (d: { kind: 'class' | 'instance' | 'style' | 'context'; id: string; known: readonly string[] }) =>
    `unknown ${d.kind} "${d.id}"; the world's ${d.kind === 'class' ? 'classes' : `${d.kind}s`} are: ${d.known.join(', ')}.`,
  'world.bad-attribute': (d: { classId: string; key: string; value: string; known: readonly string[] }) =>
    `a ${d.classId} cannot have ${d.key} "${d.value}"; its ${d.key} values are: ${d.known.join(', ')}.`,
  'world.conflict': (d: { detail: string }) => `these scene options do not fit together: ${d.detail}.`,
  'world.bad-size': (d: { size: number; min: number; max: number }) =>
    `cannot render the world at ${d.size} pixels; use a whole number from ${d.min} to ${d.max}.`,
};
