#!/usr/bin/env python3
"""Writes fixtures/recon (the hand-written reconciliation samples, see fixtures/recon/README.md).
Usage: python3 scripts/make-recon-fixtures.py [fixtures/recon]"""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "fixtures/recon"
os.makedirs(os.path.join(out, "bad"), exist_ok=True)


def w(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def r(name):
    with open(os.path.join(out, name), "rb") as f:
        return f.read()


w("vnpay-2026-11-21.csv", b"\xef\xbb\xbf" + "\r\n".join([
    "STT,TmnCode,TxnRef,TransactionNo,TransactionType,TransactionDate,Amount,Fee,NetAmount,BankCode,OrderInfo",
    "1,ANTINDEV,A1001,14000001,01,20261121083015,50000,550,49450,NCB,\"Lệ phí hộ tịch, hồ sơ HS-001\"",
    "2,ANTINDEV,A1002,14000002,01,20261121091500,120000,1320,118680,VCB,Phí cấp bản sao trích lục",
    "3,ANTINDEV,A1001,14000003,02,20261121150000,-50000,0,-50000,NCB,\"Hoàn tiền \"\"HS-001\"\"\"",
    "TOTAL,3,,,,,120000,1870,118130,,",
    ""]).encode("utf-8"))
w("momo-2026-11-21.csv", "\n".join([
    "partnerCode,orderId,parentOrderId,requestId,transId,type,responseTime,amount,fee,netAmount,orderInfo",
    "MOMOANTIN,M2001,,R2001,3100000001,payment,2026-11-21T10:00:00+07:00,200000,3000,197000,\"Lệ phí đăng ký kinh doanh,\nhồ sơ HS-002\"",
    "MOMOANTIN,RF2001,M2001,,3100000002,refund,2026-11-21T16:30:00+07:00,-20000,0,-20000,Hoàn một phần",
    "TOTAL,2,,,,,,180000,3000,177000,",
    ""]))
w("zalopay-2026-11-21.csv", "\r\n".join([
    "app_id;app_trans_id;zp_trans_id;m_refund_id;refund_id;type;server_time;amount;fee_amount;net_amount;description",
    "2554;261121_Z3001;261121000000001;;;1;1795231800000;80000;1800;78200;\"Phí thẩm định hồ sơ; lần 1\"",
    "2554;261121_Z3001;261121000000001;2554_RZ3001;9900001;2;1795242600000;-80000;0;-80000;Hoàn tiền",
    "TOTAL;2;;;;;;0;1800;-1800;",
    ""]))
w("statement-2026-11-21.mt940", "\r\n".join([
    ":20:STMT261121", ":25:970415/113366668888", ":28C:325/1", ":60F:C261120VND1000000,",
    ":61:2611211121C177000,NTRFNONREF//FT26325000001", ":86:MOMO TT QUYET TOAN NGAY 2026-11-21",
    ":61:2611211121C30000,NTRFNONREF//FT26325000002",
    ":86:ANTINQ4001 NOP LE PHI HO SO HS-004 CHUYEN KHOAN QUA NAPAS 247 TU", " NGUYEN VAN A",
    ":61:2611211121C15000,NTRFNONREF//FT26325000003", ":86:CHUYEN NHAM",
    ":61:2611211121RC15000,NTRFNONREF//FT26325000003", ":86:HOAN CHUYEN NHAM FT26325000003",
    ":61:2611211121D50000,NMSCNONREF//FT26325000004", ":86:HOAN TIEN HS-001",
    ":62F:C261121VND1157000,", "-",
    ":20:STMT261121", ":25:970415/113366669999", ":28C:325/1", ":60F:C261120VND0,",
    ":61:261121C118130,NTRFNONREF//FT26325000005", ":86:VNPAY TT QUYET TOAN NGAY 2026-11-21",
    ":62F:C261121VND118130,", "-", ""]))
w("statement-2026-11-21.camt053.xml", '''<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-113366668888-2026-11-21</MsgId><CreDtTm>2026-11-22T06:00:00+07:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-113366668888-2026-11-21</Id>
   <ElctrncSeqNb>325</ElctrncSeqNb>
   <Acct><Id><Othr><Id>113366668888</Id></Othr></Id><Ccy>VND</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">1000000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-21</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">1157000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-21</Dt></Dt></Bal>
   <TxsSummry><TtlNtries><NbOfNtries>5</NbOfNtries></TtlNtries></TxsSummry>
   <Ntry><Amt Ccy="VND">177000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-11-21T17:00:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
    <AcctSvcrRef>FT26325000001</AcctSvcrRef>
    <NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>CONG TY CP DICH VU DI DONG TRUC TUYEN</Nm></Pty></Dbtr></RltdPties>
    <RmtInf><Ustrd>MOMO TT QUYET TOAN NGAY 2026-11-21</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="VND">30000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-11-21T11:05:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
    <AcctSvcrRef>FT26325000002</AcctSvcrRef>
    <NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>Nguyễn Văn A</Nm></Pty></Dbtr></RltdPties>
    <RmtInf><Ustrd>ANTINQ4001 nộp lệ phí hồ sơ HS-004 &amp; phí</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="VND">15000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-11-21T12:00:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
    <AcctSvcrRef>FT26325000003</AcctSvcrRef>
    <NtryDtls><TxDtls><RmtInf><Ustrd>CHUYEN NHAM</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="VND">15000</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-11-21T12:30:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
    <AcctSvcrRef>FT26325000003</AcctSvcrRef>
    <NtryDtls><TxDtls><RmtInf><Ustrd>HOAN CHUYEN NHAM FT26325000003</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="VND">50000</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-11-21T15:10:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
    <AcctSvcrRef>FT26325000004</AcctSvcrRef>
    <NtryDtls><TxDtls><RmtInf><Ustrd>Hoàn tiền HS-001</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="VND">99000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
    <BookgDt><Dt>2026-11-21</Dt></BookgDt><AcctSvcrRef>FT26325000009</AcctSvcrRef></Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
''')
w("notification-2026-11-21.camt054.xml", '''<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>NFT26325000002</MsgId><CreDtTm>2026-11-21T11:05:01+07:00</CreDtTm></GrpHdr><Ntfctn><Id>NFT26325000002</Id><CreDtTm>2026-11-21T11:05:01+07:00</CreDtTm><Acct><Id><Othr><Id>113366668888</Id></Othr></Id><Ccy>VND</Ccy></Acct><Ntry><Amt Ccy="VND">30000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>2026-11-21T11:05:00+07:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt><AcctSvcrRef>FT26325000002</AcctSvcrRef><NtryDtls><TxDtls><Refs><AcctSvcrRef>FT26325000002</AcctSvcrRef></Refs><RmtInf><Ustrd>ANTINQ4001</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>
''')

# bad/: one change each.
vn = r("vnpay-2026-11-21.csv")
w("bad/vnpay-totals-wrong.csv", vn.replace(b"TOTAL,3,,,,,120000,1870,118130", b"TOTAL,3,,,,,125000,1870,118130"))
w("bad/vnpay-truncated.csv", vn[:vn.index(b"TOTAL") - 40])
w("bad/vnpay-latin1.csv", b"STT,TmnCode,TxnRef,TransactionNo,TransactionType,TransactionDate,Amount,Fee,NetAmount,BankCode,OrderInfo\r\n1,ANTINDEV,A1,1,01,20261121083015,50000,550,49450,NCB,L\xea ph\xed\r\nTOTAL,1,,,,,50000,550,49450,,\r\n")
w("bad/vnpay-bad-row.csv", vn.replace(b",120000,1320,118680,", b",12x000,1320,118680,"))
mt = r("statement-2026-11-21.mt940")
w("bad/mt940-unbalanced.mt940", mt.replace(b":62F:C261121VND1157000,", b":62F:C261121VND1158000,"))
w("bad/mt940-duplicate-number.mt940", mt.replace(b":25:970415/113366669999\r\n:28C:325/1", b":25:970415/113366668888\r\n:28C:325/1"))
w("bad/mt940-truncated.mt940", mt[:len(mt) // 2])
c = r("statement-2026-11-21.camt053.xml")
w("bad/camt053-unbalanced.xml", c.replace(b">1157000<", b">1157001<"))
w("bad/camt053-truncated.xml", c[:len(c) // 2])
w("bad/camt053-dtd.xml", c.replace(b"<Document", b'<!DOCTYPE Document [<!ENTITY x "y">]>\n<Document', 1))
