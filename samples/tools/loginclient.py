#!/usr/bin/env python3
"""Cleartext login clients for make_samples.sh, from Python's standard library.

usage: loginclient.py ftp        ADDR PORT USER PASS        USER/PASS, PWD, QUIT
       loginclient.py smtp-plain ADDR PORT USER PASS BODY   EHLO, AUTH PLAIN, one message, QUIT
       loginclient.py smtp-login ADDR PORT USER PASS BODY   the same with AUTH LOGIN
       loginclient.py imap       ADDR PORT USER PASS        LOGIN, SELECT INBOX, LOGOUT
       loginclient.py pop3       ADDR PORT USER PASS        USER/PASS, STAT, QUIT
"""
import ftplib
import imaplib
import poplib
import smtplib
import sys


def main():
    mode, addr, port, user, password = sys.argv[1:6]
    port = int(port)
    if mode == "ftp":
        ftp = ftplib.FTP()
        ftp.connect(addr, port, timeout=10)
        ftp.login(user, password)
        print(ftp.pwd())
        ftp.quit()
    elif mode in ("smtp-plain", "smtp-login"):
        body = sys.argv[6]
        s = smtplib.SMTP(addr, port, timeout=10)
        s.ehlo("client.tlscap.test")
        s.user, s.password = user, password
        if mode == "smtp-plain":
            print(s.auth("PLAIN", s.auth_plain))
        else:
            print(s.auth("LOGIN", s.auth_login, initial_response_ok=False))
        msg = "From: %s@tlscap.test\r\nTo: ops@tlscap.test\r\nSubject: test\r\n\r\n%s\r\n" % (user, body)
        print(s.sendmail(user + "@tlscap.test", ["ops@tlscap.test"], msg))
        s.quit()
    elif mode == "imap":
        m = imaplib.IMAP4(addr, port, timeout=10)
        print(m.login(user, password))
        print(m.select("INBOX"))
        m.logout()
    elif mode == "pop3":
        p = poplib.POP3(addr, port, timeout=10)
        p.user(user)
        p.pass_(password)
        print(p.stat())
        p.quit()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
