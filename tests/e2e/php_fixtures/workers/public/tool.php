<?php
// Another script (phpinfo.php, an admin tool): runs the classic way.
require __DIR__ . '/../lib/who.php';
echo who(['WORKER_NAME' => null], 1);
