/** docker-modem's ssh agent (it ships no types): an http.Agent over an ssh connection. */
declare module 'docker-modem/lib/ssh.js' {
  import type { Agent } from 'node:http';
  const sshAgent: (opts: object) => Agent;
  export default sshAgent;
}
