"""A read-only FTP server on 127.0.0.1 for the Spark job's remote-filesystem test (Hadoop's
FTPFileSystem reads from it): serves ROOT to user `tlscap` with the password in the
TLSCAP_FTP_PASSWORD environment variable (kept off the command line), prints its port.

    TLSCAP_FTP_PASSWORD=... python3 ftp_server.py ROOT
"""

import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main(root):
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    # e: change directory, l: list, r: read. Nothing can be written.
    authorizer.add_user("tlscap", os.environ["TLSCAP_FTP_PASSWORD"], root, perm="elr")
    handler = FTPHandler
    handler.authorizer = authorizer
    server = FTPServer(("127.0.0.1", 0), handler)
    print(server.address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
