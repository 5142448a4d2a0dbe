<?php
// The request body's size and digest, as PHP read it.
$body = file_get_contents('php://input');
echo strlen($body), ' ', hash('sha256', $body), "\n";
