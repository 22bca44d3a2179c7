/**
 * Receivers' rejection and deferral replies, written after the wording each system is known to
 * use (its postmaster pages and error-code lists: Google's "SMTP error reference", Microsoft's
 * "NDRs in Exchange Online", Yahoo's postmaster error codes, Apple's HT204137, GMX's
 * postmaster case pages, Mimecast's DOC-1369, the defaults of Exim, Postfix, Sendmail, qmail).
 * Hosts, IPs and ids are placeholders from the documentation ranges; no real bounce is copied.
 *
 * Shared by the classifier's unit test (test/unit/core/bounce-reason.test.ts) and the fixture
 * generator (test/fixtures/bounces/generate-families.ts).
 */
import type { BounceReason } from '../../src/core/bounce-reason.js';

export interface ReceiverReply {
  /** Short id, used in fixture file names. */
  readonly id: string;
  readonly receiver: string;
  /** The SMTP reply (or MTA prose) as the receiver wrote it, one line. */
  readonly reply: string;
  /** The RFC 3463 status a DSN would carry for it. */
  readonly status: string;
  readonly reason: BounceReason;
}

export const RECEIVER_REPLIES: readonly ReceiverReply[] = [
  // Gmail
  { id: 'gmail-nosuchuser', receiver: 'gmail', status: '5.1.1', reason: 'user-unknown', reply: "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser d9443c01a7336-2a0e8c3b1a2si1234567ad.1 - gsmtp" },
  { id: 'gmail-disabled', receiver: 'gmail', status: '5.2.1', reason: 'mailbox-disabled', reply: '550-5.2.1 The email account that you tried to reach is disabled. Learn more at 550 5.2.1 https://support.google.com/mail/?p=DisabledUser 5b1f17b1804b1-43d4ab12c91si2 - gsmtp' },
  { id: 'gmail-overquota', receiver: 'gmail', status: '4.2.2', reason: 'mailbox-full', reply: "452-4.2.2 The recipient's inbox is out of storage space. Please direct the 452-4.2.2 recipient to 452 4.2.2 https://support.google.com/mail/?p=OverQuotaTemp a640c23a62f3a-ab7d0c1e2f0si3 - gsmtp" },
  { id: 'gmail-unsolicited', receiver: 'gmail', status: '5.7.1', reason: 'content-rejected', reply: '550-5.7.1 [192.0.2.25] Gmail has detected that this message is likely 550-5.7.1 unsolicited mail. To reduce the amount of spam sent to Gmail, this 550-5.7.1 message has been blocked. For more information, go to 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError 41be03b00d2f7-b2f0si5 - gsmtp' },
  { id: 'gmail-unauthenticated', receiver: 'gmail', status: '5.7.26', reason: 'auth-failure', reply: '550-5.7.26 This mail has been blocked because the sender is unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. 550-5.7.26 550-5.7.26 Authentication results: 550-5.7.26 DKIM = did not pass 550-5.7.26 SPF [shop.example.com] with ip: [192.0.2.25] = did not pass 550 5.7.26 https://support.google.com/mail/answer/81126#authentication 3f1490d57ef6-e5dsi1 - gsmtp' },
  { id: 'gmail-dmarc', receiver: 'gmail', status: '5.7.26', reason: 'auth-failure', reply: "550-5.7.26 Unauthenticated email from shop.example.com is not accepted due to 550-5.7.26 domain's DMARC policy. Please contact the administrator of 550-5.7.26 shop.example.com domain if this was a legitimate mail. To learn about the 550 5.7.26 DMARC initiative, go to https://support.google.com/mail/?p=DmarcRejection - gsmtp" },
  { id: 'gmail-ratelimit', receiver: 'gmail', status: '4.7.28', reason: 'rate-limited', reply: '421-4.7.28 [192.0.2.25] Our system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from your IP address. To protect our 421-4.7.28 users from spam, mail sent from your IP address has been temporarily 421 4.7.28 rate limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError - gsmtp' },
  { id: 'gmail-reputation', receiver: 'gmail', status: '5.7.1', reason: 'blocked', reply: '550-5.7.1 This message was blocked because its sender has a very low reputation. 550-5.7.1 To best protect our users from spam, the message has been blocked. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp' },
  { id: 'gmail-ptr', receiver: 'gmail', status: '5.7.25', reason: 'policy', reply: '550-5.7.25 [2001:db8::25] The IP address sending this message does not have a 550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not 550-5.7.25 point to the sending IP. As a policy, Gmail does not accept messages 550 5.7.25 from IPs with missing PTR records. - gsmtp' },
  { id: 'gmail-size', receiver: 'gmail', status: '5.3.4', reason: 'message-too-big', reply: "552-5.3.4 Your message exceeded Google's message size limits. Please visit 552 5.3.4 https://support.google.com/mail/?p=MaxSizeError to view our size guidelines. - gsmtp" },
  { id: 'gmail-rcpt-rate', receiver: 'gmail', status: '4.2.1', reason: 'rate-limited', reply: '450-4.2.1 The user you are trying to contact is receiving mail at a rate that 450-4.2.1 prevents additional messages from being delivered. Please resend your 450 4.2.1 message at a later point. - gsmtp' },
  // Outlook.com / Office 365
  { id: 'o365-recipientnotfound', receiver: 'office365', status: '5.1.10', reason: 'user-unknown', reply: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.example not found by SMTP address lookup' },
  { id: 'o365-dbeb', receiver: 'office365', status: '5.4.1', reason: 'user-unknown', reply: '550 5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [AM4PEPF00027A5C.eurprd04.prod.outlook.com 2026-11-30T10:12:41.000Z]' },
  { id: 'o365-banned-ip', receiver: 'office365', status: '5.7.606', reason: 'blocked', reply: '550 5.7.606 Access denied, banned sending IP [192.0.2.25]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)' },
  { id: 'o365-dmarc', receiver: 'office365', status: '5.7.509', reason: 'auth-failure', reply: '550 5.7.509 Access denied, sending domain shop.example.com does not pass DMARC verification and has a DMARC policy of reject. [DB5PEPF00014B9E.eurprd02.prod.outlook.com]' },
  { id: 'o365-quota', receiver: 'office365', status: '5.2.2', reason: 'mailbox-full', reply: '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception with message [BeginDiagnosticData]' },
  { id: 'o365-group-auth', receiver: 'office365', status: '5.7.133', reason: 'policy', reply: "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; Delivery restriction check failed because the sender was not authenticated when sending to this group" },
  { id: 'o365-server-busy', receiver: 'office365', status: '4.7.500', reason: 'rate-limited', reply: '451 4.7.500 Server busy. Please try again later from [192.0.2.25]. (S77719) [VI1EUR04FT021.eop-eur04.prod.protection.outlook.com]' },
  { id: 'o365-forwarding', receiver: 'office365', status: '5.7.520', reason: 'policy', reply: '550 5.7.520 Access denied, Your organization does not allow external forwarding. Please contact your administrator for further assistance. AS(7555)' },
  { id: 'outlook-mailbox-unavailable', receiver: 'outlook.com', status: '5.5.0', reason: 'user-unknown', reply: '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DM6NAM12FT045.eop-nam12.prod.protection.outlook.com]' },
  { id: 'outlook-sc001', receiver: 'outlook.com', status: '5.7.1', reason: 'blocked', reply: "550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors." },
  { id: 'outlook-rp001', receiver: 'outlook.com', status: '4.7.0', reason: 'rate-limited', reply: "421 RP-001 (BAY004-MC1F25) Unfortunately, some messages from 192.0.2.25 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day. You can also refer to http://mail.live.com/mail/troubleshooting.aspx#errors." },
  { id: 'o365-spam', receiver: 'office365', status: '5.7.1', reason: 'content-rejected', reply: '550 5.7.1 Service unavailable, message rejected as spam by Content Filtering; see https://aka.ms/EXOSmtpErrors' },
  // Yahoo / AOL
  { id: 'yahoo-dd-nouser', receiver: 'yahoo', status: '5.0.0', reason: 'user-unknown', reply: "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.example) [0] - mta4012.mail.gq1.yahoo.com" },
  { id: 'yahoo-disabled', receiver: 'yahoo', status: '5.0.0', reason: 'mailbox-disabled', reply: '554 delivery error: dd Sorry your message to nobody@yahoo.example cannot be delivered. This mailbox is disabled (554.30). - mta1049.mail.ne1.yahoo.com' },
  { id: 'yahoo-tss04', receiver: 'yahoo', status: '4.7.0', reason: 'rate-limited', reply: '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes' },
  { id: 'yahoo-tss09', receiver: 'yahoo', status: '5.7.2', reason: 'blocked', reply: '553 5.7.2 [TSS09] All messages from 192.0.2.25 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes' },
  { id: 'yahoo-unauth', receiver: 'yahoo', status: '5.7.9', reason: 'auth-failure', reply: '550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.' },
  { id: 'yahoo-policy', receiver: 'yahoo', status: '5.7.9', reason: 'policy', reply: '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes' },
  { id: 'yahoo-size', receiver: 'yahoo', status: '5.3.4', reason: 'message-too-big', reply: '554 30 Sorry, your message size exceeds 41943040 bytes.' },
  { id: 'aol-rlyb1', receiver: 'aol', status: '5.7.1', reason: 'blocked', reply: '554- (RLY:B1) The information presented below will assist AOL in identifying the problem. 554- Please visit http://postmaster.info.aol.com/errors/554rlyb1.html 554 Connecting IP: 192.0.2.25' },
  { id: 'aol-dynt1', receiver: 'aol', status: '4.7.1', reason: 'rate-limited', reply: '421 DYN:T1 http://postmaster.info.aol.com/errors/421dynt1.html' },
  { id: 'aol-mailbox-not-found', receiver: 'aol', status: '5.1.1', reason: 'user-unknown', reply: '552 1 Requested mail action aborted, mailbox not found' },
  // iCloud
  { id: 'icloud-user', receiver: 'icloud', status: '5.1.1', reason: 'user-unknown', reply: '550 5.1.1 <nobody@icloud.example>: user does not exist' },
  { id: 'icloud-quota', receiver: 'icloud', status: '5.2.2', reason: 'mailbox-full', reply: '552 5.2.2 <nobody@icloud.example>: user is over quota (in reply to RCPT TO command)' },
  { id: 'icloud-hm08', receiver: 'icloud', status: '5.7.1', reason: 'policy', reply: '554 5.7.1 [HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137' },
  { id: 'icloud-dmarc', receiver: 'icloud', status: '5.7.1', reason: 'auth-failure', reply: "554 5.7.1 Your message was rejected due to shop.example.com's DMARC policy. See https://support.apple.com/en-us/HT204137 for more information." },
  // GMX / web.de
  { id: 'gmx-unavailable', receiver: 'gmx', status: '5.0.0', reason: 'user-unknown', reply: '550 Requested action not taken: mailbox unavailable' },
  { id: 'gmx-blacklisted', receiver: 'gmx', status: '5.0.0', reason: 'blocked', reply: '554-gmx.net (mxgmx114) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is black listed. 554 For explanation visit https://postmaster.gmx.net/en/case?c=r0301&i=ip&v=192.0.2.25&r=1MXYZ0-1abcd' },
  { id: 'gmx-invalid-dns', receiver: 'gmx', status: '5.0.0', reason: 'policy', reply: '550-Requested action not taken: mailbox unavailable 550 invalid DNS MX or A/AAAA resource record' },
  { id: 'webde-full', receiver: 'web.de', status: '4.2.2', reason: 'mailbox-full', reply: '452 4.2.2 Mailbox full, please try again later (mxweb110)' },
  { id: 'webde-policy', receiver: 'web.de', status: '5.0.0', reason: 'policy', reply: '554-Transaction failed 554-Reject due to policy restrictions. 554 For explanation visit https://postmaster.web.de/en/case?c=hi&i=ip&v=192.0.2.25&r=0LabcD' },
  // Mimecast
  { id: 'mimecast-invalid', receiver: 'mimecast', status: '5.0.0', reason: 'user-unknown', reply: '550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [Xq3LkPmZNyu1aBcD.us494]' },
  { id: 'mimecast-spoofing', receiver: 'mimecast', status: '5.0.0', reason: 'policy', reply: '550 Rejected by header based Anti-Spoofing policy: shop.example.com - https://community.mimecast.com/docs/DOC-1369#550 [rT9bx2.uk74]' },
  { id: 'mimecast-envelope-blocked', receiver: 'mimecast', status: '5.0.0', reason: 'blocked', reply: '550 Administrative prohibition - envelope blocked - https://community.mimecast.com/docs/DOC-1369#550 [QzF3.eu259]' },
  { id: 'mimecast-security', receiver: 'mimecast', status: '5.0.0', reason: 'policy', reply: '554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554 [Ab12.us212]' },
  // Proofpoint
  { id: 'proofpoint-blocked', receiver: 'proofpoint', status: '5.7.1', reason: 'blocked', reply: '554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25' },
  { id: 'proofpoint-user', receiver: 'proofpoint', status: '5.1.1', reason: 'user-unknown', reply: '550 5.1.1 User Unknown' },
  { id: 'proofpoint-virus', receiver: 'proofpoint', status: '5.7.1', reason: 'content-rejected', reply: '554 5.7.1 Message rejected: the message contains a virus (Eicar-Test-Signature)' },
  // Barracuda, Spamhaus, SpamCop
  { id: 'barracuda-rbl', receiver: 'barracuda', status: '5.7.1', reason: 'blocked', reply: '554 Service unavailable; Client host [192.0.2.25] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.25' },
  { id: 'spamhaus-zen', receiver: 'postfix+spamhaus', status: '5.7.1', reason: 'blocked', reply: '554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.25' },
  { id: 'spamhaus-dbl-rcpt', receiver: 'postfix+spamhaus', status: '5.7.1', reason: 'blocked', reply: '554 5.7.1 <nobody@example.net>: Recipient address rejected: shop.example.com is listed in dbl.spamhaus.org' },
  { id: 'spamcop', receiver: 'exim+spamcop', status: '5.0.0', reason: 'blocked', reply: '550 Rejected: 192.0.2.25 listed at bl.spamcop.net' },
  // Amazon SES
  { id: 'ses-suppressed', receiver: 'ses', status: '5.1.1', reason: 'user-unknown', reply: 'Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.' },
  { id: 'ses-expired', receiver: 'ses', status: '4.4.7', reason: 'expired', reply: '554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.0 Unable to lookup DNS for example.net>' },
  // Zoho
  { id: 'zoho-user', receiver: 'zoho', status: '5.1.1', reason: 'user-unknown', reply: '550 5.1.1 User does not exist - <nobody@zoho.example>' },
  { id: 'zoho-unusual', receiver: 'zoho', status: '5.4.6', reason: 'rate-limited', reply: '550 5.4.6 Unusual sending activity detected. Please try after sometime.' },
  { id: 'zoho-size-full', receiver: 'zoho', status: '5.2.2', reason: 'mailbox-full', reply: '552 5.2.2 Mailbox size limit exceeded' },
  // Exim defaults
  { id: 'exim-retry-timeout', receiver: 'exim', status: '4.4.7', reason: 'expired', reply: 'retry timeout exceeded' },
  { id: 'exim-unrouteable', receiver: 'exim', status: '5.1.2', reason: 'host-unknown', reply: 'Unrouteable address' },
  { id: 'exim-nosuchuser', receiver: 'exim', status: '5.0.0', reason: 'user-unknown', reply: '550 No Such User Here' },
  { id: 'exim-quota', receiver: 'exim', status: '5.2.2', reason: 'mailbox-full', reply: 'mailbox is full (MTA-imposed quota exceeded while writing to file /var/mail/nobody)' },
  { id: 'exim-sender-verify', receiver: 'exim', status: '5.0.0', reason: 'policy', reply: '550-Verification failed for <trx-bounce@bounces.example.com> 550-No Such User Here 550 Sender verify failed' },
  { id: 'exim-relay', receiver: 'exim', status: '5.0.0', reason: 'policy', reply: '550 relay not permitted' },
  { id: 'exim-moved', receiver: 'exim', status: '5.1.6', reason: 'moved', reply: '551 User not local; please try <new-address@example.org>' },
  // Postfix defaults
  { id: 'postfix-user', receiver: 'postfix', status: '5.1.1', reason: 'user-unknown', reply: '550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table' },
  { id: 'postfix-host-not-found', receiver: 'postfix', status: '5.4.4', reason: 'host-unknown', reply: 'Host or domain name not found. Name service error for name=example.invalid type=A: Host not found' },
  { id: 'postfix-connect-timeout', receiver: 'postfix', status: '4.4.1', reason: 'network', reply: 'connect to mx.example.net[192.0.2.7]:25: Connection timed out' },
  { id: 'postfix-size', receiver: 'postfix', status: '5.3.4', reason: 'message-too-big', reply: '552 5.3.4 Message size exceeds fixed limit' },
  { id: 'postfix-sender-domain', receiver: 'postfix', status: '5.1.8', reason: 'policy', reply: '550 5.1.8 <trx-bounce@bounces.example.com>: Sender address rejected: Domain not found' },
  { id: 'postfix-greylist', receiver: 'postfix', status: '4.2.0', reason: 'policy', reply: '450 4.2.0 <nobody@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html' },
  { id: 'postfix-tls', receiver: 'postfix', status: '5.7.0', reason: 'policy', reply: '530 5.7.0 Must issue a STARTTLS command first' },
  { id: 'postfix-rcpt-domain', receiver: 'postfix', status: '5.1.2', reason: 'host-unknown', reply: '450 4.1.2 <nobody@example.invalid>: Recipient address rejected: Domain not found' },
  { id: 'postfix-relay', receiver: 'postfix', status: '5.7.1', reason: 'policy', reply: '554 5.7.1 <nobody@example.net>: Relay access denied' },
  // Sendmail defaults
  { id: 'sendmail-user', receiver: 'sendmail', status: '5.1.1', reason: 'user-unknown', reply: '550 5.1.1 <nobody@example.net>... User unknown' },
  { id: 'sendmail-full', receiver: 'sendmail', status: '5.2.2', reason: 'mailbox-full', reply: '552 5.2.2 <nobody@example.net>... Mailbox full' },
  { id: 'sendmail-moved', receiver: 'sendmail', status: '5.1.6', reason: 'moved', reply: '551 5.1.6 <nobody@example.net>... User has moved; please try <nobody@example.org>' },
  { id: 'sendmail-expired', receiver: 'sendmail', status: '4.4.7', reason: 'expired', reply: 'Message could not be delivered for 5 days' },
  { id: 'sendmail-refused', receiver: 'sendmail', status: '4.0.0', reason: 'network', reply: 'Deferred: Connection refused by mx.example.net.' },
  // qmail defaults
  { id: 'qmail-nomailbox', receiver: 'qmail', status: '5.1.1', reason: 'user-unknown', reply: 'Sorry, no mailbox here by that name. (#5.1.1)' },
  { id: 'qmail-nohost', receiver: 'qmail', status: '5.1.2', reason: 'host-unknown', reply: "Sorry, I couldn't find any host named example.invalid. (#5.1.2)" },
  { id: 'qmail-quota', receiver: 'qmail', status: '5.2.2', reason: 'mailbox-full', reply: 'The users mailfolder is over the allowed quota (size). (#5.2.2)' },
  { id: 'qmail-queue-too-long', receiver: 'qmail', status: '4.4.7', reason: 'expired', reply: "I'm not going to try again; this message has been in the queue too long." },
  { id: 'qmail-connect', receiver: 'qmail', status: '4.4.1', reason: 'network', reply: "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)" },
  // Lotus Domino
  { id: 'domino-not-listed', receiver: 'domino', status: '5.1.1', reason: 'user-unknown', reply: 'User nobody (nobody@notes.example) not listed in Domino Directory' },
  // Others
  { id: 'disabled-generic', receiver: 'cpanel', status: '5.2.1', reason: 'mailbox-disabled', reply: '550 5.2.1 <nobody@example.net>: Mailbox disabled, not accepting messages' },
  { id: 'loop', receiver: 'postfix', status: '5.4.6', reason: 'network', reply: 'mail for example.net loops back to myself' },
  { id: 'unclassified', receiver: 'unknown', status: '5.0.0', reason: 'other', reply: '554 5.0.0 Transaction failed' },
];
