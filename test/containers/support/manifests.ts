import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { engine } from './engine.js';

export type Manifest = Record<string, any>;
const root = path.resolve(import.meta.dirname, '../../..');

/** Every document under deploy/k8s but the kustomization. */
export async function kubernetesManifests(): Promise<Manifest[]> {
  const folder = path.join(root, 'deploy/k8s');
  const files = readdirSync(folder).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
  const documents = await Promise.all(files.map(async (file) => parseAllDocuments(await readFile(path.join(folder, file), 'utf8')).map((doc) => doc.toJS() as Manifest)));
  return documents.flat();
}

/** `podman run` options that give a container what its pod spec gives it in Kubernetes. */
export function runOptionsLike(pod: Manifest, container: Manifest): string[] {
  const podSecurity = pod.securityContext ?? {};
  const security = container.securityContext ?? {};
  const options: string[] = [];
  const user = security.runAsUser ?? podSecurity.runAsUser;
  if (user !== undefined) options.push('--user', `${user}:${security.runAsGroup ?? podSecurity.runAsGroup ?? user}`);
  // Kubernetes adds no writable /tmp to a read-only root; podman does unless told not to.
  if (security.readOnlyRootFilesystem === true) options.push('--read-only', ...(engine === 'podman' ? ['--read-only-tmpfs=false'] : []));
  for (const capability of security.capabilities?.drop ?? []) options.push('--cap-drop', capability);
  if (security.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
  const emptyDirs = new Set((pod.volumes ?? []).filter((volume: Manifest) => volume.emptyDir !== undefined).map((volume: Manifest) => volume.name));
  for (const mount of container.volumeMounts ?? []) {
    if (!emptyDirs.has(mount.name)) throw new Error(`volume ${mount.name} is not an emptyDir: give the test its stand-in`);
    options.push('--tmpfs', mount.mountPath);
  }
  return options;
}

/** Kubernetes' `command` replaces the image's ENTRYPOINT and `args` its CMD: the same in `run` terms. */
export function commandLike(container: Manifest): { options: string[]; args: string[] } {
  const [entrypoint, ...rest] = (container.command ?? []) as string[];
  const args = (container.args ?? []) as string[];
  return entrypoint === undefined ? { options: [], args } : { options: ['--entrypoint', entrypoint], args: [...rest, ...args] };
}

/** The variables a container gets from its envFrom and env, given the ConfigMap and the Secret's values. */
export function environmentOf(container: Manifest, configMap: Record<string, string>, secret: Record<string, string>): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const source of container.envFrom ?? []) Object.assign(environment, source.configMapRef !== undefined ? configMap : secret);
  for (const variable of container.env ?? []) environment[variable.name] = variable.value ?? secret[variable.valueFrom.secretKeyRef.key];
  return environment;
}
