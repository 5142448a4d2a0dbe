<?php

namespace App;

use App\Controller\DemoController;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Bundle\TwigBundle\TwigBundle;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

/**
 * The whole application's configuration, in PHP: two bundles, one
 * controller, four routes. No YAML, so no symfony/yaml is needed.
 */
class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        yield new FrameworkBundle();
        yield new TwigBundle();
    }

    /** No composer.json to find it by: the directory above src/. */
    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    /** var/cache/ENV, or under $APP_VAR_DIR (the tests use a temporary one). */
    public function getCacheDir(): string
    {
        return $this->varDir() . '/cache/' . $this->environment;
    }

    public function getLogDir(): string
    {
        return $this->varDir() . '/log';
    }

    private function varDir(): string
    {
        return symfony_example_env('APP_VAR_DIR', $this->getProjectDir() . '/var');
    }

    protected function configureContainer(ContainerConfigurator $container): void
    {
        // A demo secret, public in this repository: set APP_SECRET for anything real.
        $container->parameters()->set('env(APP_SECRET)', 'torus-symfony-example-demo-secret');

        $container->extension('framework', [
            'secret' => '%env(APP_SECRET)%',
            'http_method_override' => false,
            'router' => ['utf8' => true],
            'php_errors' => ['log' => true],
        ]);
        $container->extension('twig', [
            'default_path' => '%kernel.project_dir%/templates',
            'strict_variables' => '%kernel.debug%',
        ]);

        $container->services()
            ->defaults()->autowire()->autoconfigure()
            ->set(DemoController::class)->public()->tag('controller.service_arguments');
    }

    protected function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('home', '/')->controller([DemoController::class, 'home'])->methods(['GET', 'HEAD']);
        $routes->add('json', '/json')->controller([DemoController::class, 'info'])->methods(['GET', 'HEAD']);
        $routes->add('throw', '/throw')->controller([DemoController::class, 'fail']);
    }
}
