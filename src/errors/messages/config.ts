/** Messages for configuration (src/config). */
export const configMessages = {
  'config.invalid': (d: { variable: string; value: string; expected: string }) =>
    `environment variable ${d.variable}=${JSON.stringify(d.value)} is invalid: expected ${d.expected}. Fix or unset it (see README, "Configuration").`,
};
