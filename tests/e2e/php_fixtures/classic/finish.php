<?php
// The response is complete at fastcgi_finish_request(); the script goes on for a second.
echo "sent before the after-work\n";
fastcgi_finish_request();
echo "never seen by the client\n";
sleep(1);
file_put_contents(__DIR__ . '/markers/' . basename($_GET['marker'] ?? 'finish'), 'after-work done');
