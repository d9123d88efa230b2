// The carrier side of the SMS channel tests: an SMSC on the npm `smpp` server (pinned in package.json).
//
//   node smsc.js PORT [ID_PREFIX] [KEY_PEM CERT_PEM]      (with the two PEM files: SMPP over TLS)
//
// Writes one JSON object per line on stdout: {"event":"ready"}, "bind", "submit_sm" (every field the tests
// check, short_message as hex, raw bytes), "deliver_sm_resp", "enquire_link" (one the ESME sent),
// "enquire_link_resp" (to ours), "redeliver", "tls_error", "closed". Like a carrier's SMSC, a deliver_sm whose
// deliver_sm_resp never came is delivered again when a receiver binds next. Reads commands as JSON lines on
// stdin:
//   {"cmd":"mode","mode":"ok"|"throttle"|"qfull"|"reject","status":N}   how to answer submit_sm
//   {"cmd":"throttle_next","count":N}              answer the next N submit_sm with ESME_RTHROTTLED
//   {"cmd":"auto_dlr","stat":"DELIVRD"|null,"form":"tlv"|"text"}   a delivery receipt after each accept
//   {"cmd":"deliver_sm", source_addr, destination_addr, esm_class, data_coding, short_message_hex,
//    receipted_message_id, message_state, sar_msg_ref_num, sar_total_segments, sar_segment_seqnum,
//    lose_resp}                                    lose_resp: the session goes mute when the answer comes
//   {"cmd":"drop_all"}                             close every session's socket (a network failure)
//   {"cmd":"enquire_link"}                         send enquire_link on every session
//   {"cmd":"mute"}                                 the current sessions ignore every PDU from now on (a hung
//                                                  peer: no enquire_link_resp, no submit_sm_resp)
'use strict';
const fs = require('fs');
const smpp = require('smpp');
const PDU = require('smpp/lib/pdu').PDU;
const readline = require('readline');

// Keep short_message as the bytes on the wire: the library would split it into {udh, message}.
const originalFilter = PDU.prototype._filter;
PDU.prototype._filter = function (func) {
  if (func === 'decode') this.raw_short_message = this.short_message;
  return originalFilter.call(this, func);
};

const port = +process.argv[2];
const prefix = process.argv[3] || 'n';
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const tls = process.argv[4] ? { key: fs.readFileSync(process.argv[4]), cert: fs.readFileSync(process.argv[5]) } : {};
const sessions = new Set();
let undelivered = [];  // deliver_sm fields whose session closed before its deliver_sm_resp came
let mode = 'ok', rejectStatus = 0x45, throttleNext = 0, autoDlr = null, counter = 0;

function receiver(session) {
  return session.bound === 'bind_transceiver' || session.bound === 'bind_receiver';
}

function deliverOn(session, fields, loseResp) {
  const pdu = new PDU('deliver_sm', Object.assign({}, fields));
  session.pending.add(fields);
  session.send(pdu, (resp) => {
    if (loseResp) session.muted = true;  // the link dies as the answer arrives: it is never read
    if (session.muted) return;
    session.pending.delete(fields);
    out({ event: 'deliver_sm_resp', command_status: resp.command_status, sequence_number: resp.sequence_number });
  });
}

function sendDeliver(fields, loseResp) {
  let sent = 0;
  for (const s of sessions) {
    if (!receiver(s) || s.muted) continue;
    sent++;
    deliverOn(s, fields, loseResp);
  }
  if (!sent) undelivered.push(fields);
  return sent;
}

function receipt(id, pdu, stat, form) {
  const state = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 }[stat];
  const text = `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2601011200 ` +
    `done date:2601011201 stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} text:`;
  const fields = { source_addr: pdu.destination_addr, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: pdu.source_addr, dest_addr_ton: pdu.source_addr_ton, dest_addr_npi: pdu.source_addr_npi,
    esm_class: 0x04, short_message: Buffer.from(text, 'latin1') };
  if (form !== 'text') Object.assign(fields, { receipted_message_id: id, message_state: state });
  return fields;
}

const server = smpp.createServer(tls, (session) => {
  sessions.add(session);
  session.pending = new Set();
  session.on('close', () => {
    sessions.delete(session);
    undelivered.push(...session.pending);
    session.pending.clear();
    out({ event: 'closed' });
  });
  session.on('error', () => {});
  // a muted session drops every PDU before the handlers below see it
  const emit = session.emit;
  session.emit = function (name, ...args) {
    if (session.muted && name !== 'close' && name !== 'error') return false;
    return emit.call(this, name, ...args);
  };
  for (const kind of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(kind, (pdu) => {
      const ok = pdu.password === 'secret';
      session.send(pdu.response({ command_status: ok ? 0 : smpp.ESME_RINVPASWD, system_id: 'NODESMSC' }));
      if (ok) session.bound = kind;
      out({ event: 'bind', type: kind, system_id: pdu.system_id, system_type: pdu.system_type, ok });
      if (ok && receiver(session) && undelivered.length) {
        const again = undelivered; undelivered = [];
        for (const fields of again) {
          out({ event: 'redeliver', source_addr: fields.source_addr });
          deliverOn(session, fields);
        }
      }
    });
  }
  session.on('enquire_link', (pdu) => { out({ event: 'enquire_link' }); session.send(pdu.response()); });
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('deliver_sm_resp', () => {});
  session.on('submit_sm', (pdu) => {
    const record = { event: 'submit_sm', source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton,
      source_addr_npi: pdu.source_addr_npi, destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi, esm_class: pdu.esm_class,
      data_coding: pdu.data_coding, registered_delivery: pdu.registered_delivery,
      validity_period: pdu.validity_period ? String(pdu.validity_period) : null,
      short_message_hex: Buffer.from(pdu.raw_short_message || []).toString('hex') };
    let status = 0;
    if (throttleNext > 0) { throttleNext--; status = smpp.ESME_RTHROTTLED; }
    else if (mode === 'throttle') status = smpp.ESME_RTHROTTLED;
    else if (mode === 'qfull') status = smpp.ESME_RMSGQFUL;
    else if (mode === 'reject') status = rejectStatus;
    if (status) {
      out(Object.assign(record, { command_status: status }));
      return session.send(pdu.response({ command_status: status }));
    }
    const id = prefix + (++counter);
    out(Object.assign(record, { command_status: 0, message_id: id }));
    session.send(pdu.response({ message_id: id }));
    if (autoDlr && autoDlr.stat) {
      const fields = receipt(id, pdu, autoDlr.stat, autoDlr.form);
      setTimeout(() => { if (receiver(session) && !session.muted) deliverOn(session, fields); else sendDeliver(fields); }, 5);
    }
  });
});
server.on('tlsClientError', (err) => out({ event: 'tls_error', message: String(err && err.message) }));
server.listen(port, '127.0.0.1', () => out({ event: 'ready', port }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line);
  if (c.cmd === 'mode') { mode = c.mode; if (c.status) rejectStatus = c.status; }
  else if (c.cmd === 'throttle_next') throttleNext = c.count;
  else if (c.cmd === 'auto_dlr') autoDlr = c.stat ? { stat: c.stat, form: c.form || 'tlv' } : null;
  else if (c.cmd === 'drop_all') { for (const s of sessions) s.socket.destroy(); }
  else if (c.cmd === 'mute') { for (const s of sessions) s.muted = true; }
  else if (c.cmd === 'enquire_link') {
    for (const s of sessions) {
      if (s.muted) continue;
      s.enquire_link({}, (resp) => out({ event: 'enquire_link_resp', command_status: resp.command_status }));
    }
  }
  else if (c.cmd === 'deliver_sm') {
    const fields = { source_addr: c.source_addr, source_addr_ton: c.source_addr_ton ?? 1, source_addr_npi: 1,
      destination_addr: c.destination_addr, dest_addr_ton: c.dest_addr_ton ?? 1, dest_addr_npi: 1,
      esm_class: c.esm_class || 0, data_coding: c.data_coding || 0,
      short_message: Buffer.from(c.short_message_hex || '', 'hex') };
    for (const key of ['receipted_message_id', 'message_state', 'sar_msg_ref_num', 'sar_total_segments',
      'sar_segment_seqnum']) {
      if (c[key] !== undefined && c[key] !== null) fields[key] = c[key];
    }
    out({ event: 'deliver_sm_sent', sessions: sendDeliver(fields, !!c.lose_resp), id: c.id || null });
  }
  out({ event: 'ack', cmd: c.cmd, id: c.id || null });
});
