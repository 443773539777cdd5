/**
 * UPnP control (SOAP actions) of WiiM / LinkPlay devices, protocol only:
 * the control URLs from the device description, one action call, and the
 * reading of its reply or its UPnP error. After UPnP Device Architecture
 * 1.1 section 3 (control); the actions used are those pywiim calls
 * (upnp/client.py: GetMediaInfo, GetPositionInfo, ContentDirectory Browse;
 * upnp/playqueue.py: the vendor PlayQueue service).
 */

import { DeviceError } from '../shared/errors';
import { SERVICE_TYPES, child, list, parseXml, text, upnpRequest } from './upnp';

export const CONTROL_TYPES = {
  avTransport: SERVICE_TYPES.avTransport,
  contentDirectory: 'urn:schemas-upnp-org:service:ContentDirectory:1',
  playQueue: SERVICE_TYPES.playQueue,
} as const;
export type ControlService = keyof typeof CONTROL_TYPES;

/** The control URL of each service the description lists (absolute), by service. */
export type ControlUrls = Partial<Record<ControlService, string>>;

/** Reads serviceList/service/controlURL of the known services (UDA 1.1, 2.3), embedded devices included. */
export function parseControlUrls(xml: string, base: string): ControlUrls {
  const out: ControlUrls = {};
  const visit = (device: unknown, depth: number) => {
    for (const d of list(device)) {
      for (const s of list(child(child(d, 'serviceList'), 'service'))) {
        const type = text(child(s, 'serviceType'))?.trim() ?? '';
        const name = (Object.keys(CONTROL_TYPES) as ControlService[]).find((n) => CONTROL_TYPES[n] === type);
        const ctl = text(child(s, 'controlURL'))?.trim();
        if (!name || !ctl || out[name]) continue;
        try {
          out[name] = new URL(ctl, base).href;
        } catch {
          // a path no URL can be made of: the service is left out
        }
      }
      if (depth < 3) visit(child(child(d, 'deviceList'), 'device'), depth + 1);
    }
  };
  visit(child(child(parseXml(xml), 'root'), 'device'), 0);
  return out;
}

/** Fetches the description and reads the control URLs. */
export async function fetchControlUrls(descriptionUrl: string, timeoutMs: number): Promise<ControlUrls> {
  const reply = await upnpRequest('GET', descriptionUrl, {}, timeoutMs);
  if (reply.status !== 200) throw new DeviceError('protocol', `GET ${descriptionUrl}: HTTP ${reply.status}`);
  return parseControlUrls(reply.body, descriptionUrl);
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** UPnP's "Invalid Action" (UDA 1.1, 3.2.2): the service does not have the action. */
export const UPNP_INVALID_ACTION = 401;

/**
 * Calls one action and returns its out arguments by name, decoded. A UPnP
 * error (HTTP 500 with a UPnPError) becomes a DeviceError `device` whose
 * `code` is the UPnP error code.
 */
export async function soapAction(
  controlUrl: string,
  service: ControlService,
  action: string,
  args: ReadonlyArray<readonly [string, string | number]>,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const type = CONTROL_TYPES[service];
  const inner = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  const body =
    `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ` +
    `s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action} xmlns:u="${type}">${inner}</u:${action}></s:Body></s:Envelope>`;
  const reply = await upnpRequest(
    'POST',
    controlUrl,
    { 'Content-Type': 'text/xml; charset="utf-8"', SOAPACTION: `"${type}#${action}"`, 'Content-Length': String(Buffer.byteLength(body)) },
    timeoutMs,
    body,
  );
  const envelopeBody = reply.body.trim() === '' ? undefined : child(child(parseXml(reply.body), 'Envelope'), 'Body');
  if (reply.status !== 200) {
    const detail = child(child(child(envelopeBody, 'Fault'), 'detail'), 'UPnPError');
    const code = Number(text(child(detail, 'errorCode')) ?? NaN);
    const description = text(child(detail, 'errorDescription')) ?? `HTTP ${reply.status}`;
    if (Number.isInteger(code)) throw new DeviceError('device', `${action}: UPnP error ${code} (${description})`, { code });
    throw new DeviceError(reply.status === 404 ? 'device' : 'protocol', `${action}: HTTP ${reply.status}`, { code: reply.status });
  }
  const response = child(envelopeBody, `${action}Response`);
  const out: Record<string, string> = {};
  if (response && typeof response === 'object') {
    for (const [k, v] of Object.entries(response as Record<string, unknown>)) {
      if (k.startsWith('@_')) continue;
      const local = k.includes(':') ? k.slice(k.indexOf(':') + 1) : k;
      out[local] = text(v) ?? '';
    }
  }
  return out;
}
