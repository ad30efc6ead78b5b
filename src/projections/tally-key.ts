/** Which tally an event moves: one per (project, poll, target). */
export interface TallyKey {
  readonly projectId: string;
  readonly poll: string;
  readonly target: string;
}

export interface PollKey {
  readonly projectId: string;
  readonly poll: string;
}

export const tallyIdOf = (key: TallyKey) => `${key.projectId}\u0000${key.poll}\u0000${key.target}`;
export const pollIdOf = (key: PollKey) => `${key.projectId}\u0000${key.poll}`;
