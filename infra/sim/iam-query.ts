/**
 * The simulated IAM, as much as the service asks of it: ListRoleTags and ListUserTags (IAM's Query
 * protocol, `Version=2010-05-08`, XML answers), from the roles and users the region holds
 * (`putIamPrincipal`). One page each: the simulated principals carry few tags.
 */
import { randomUUID } from 'node:crypto';
import type { WireResponse } from './ec2-query';
import type { SimulatedRegion } from './region';

export const IAM_API_VERSION = '2010-05-08';
const XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const XML_HEADERS = { 'content-type': 'text/xml' };

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function handleIamQuery(region: SimulatedRegion, body: string): WireResponse {
  const requestId = randomUUID();
  const params = new URLSearchParams(body);
  const action = params.get('Action') ?? '';
  const error = (status: number, code: string, message: string): WireResponse => ({
    status,
    headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
    body: `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  });
  const kinds = { ListRoleTags: ['role', 'RoleName'], ListUserTags: ['user', 'UserName'] } as const;
  if (!(action in kinds)) return error(400, 'InvalidAction', `The simulated IAM serves ListRoleTags and ListUserTags only, not ${action}`);
  const [kind, nameParam] = kinds[action as keyof typeof kinds];
  const name = params.get(nameParam) ?? '';
  const principal = region.getIamPrincipal(kind, name);
  if (!principal) return error(404, 'NoSuchEntity', `The ${kind} with name ${name} cannot be found.`);
  const members = Object.entries(principal.tags)
    .map(([key, value]) => `<member><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></member>`)
    .join('');
  return {
    status: 200,
    headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
    body: `<${action}Response xmlns="${XMLNS}"><${action}Result><IsTruncated>false</IsTruncated><Tags>${members}</Tags></${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  };
}
